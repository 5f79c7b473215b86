-- wrk script: whoami with a different credential per request, walking through the file named by WRK_TOKENS
-- (one per line, as `loadtool seed --credentials-out` writes it: a token, or with --cookie a whole "name=value" cookie).
-- Each wrk thread starts at its own place.
local tokens = {}
for line in io.lines(os.getenv("WRK_TOKENS") or error("set WRK_TOKENS to the token file")) do
  tokens[#tokens + 1] = line
end
local path = os.getenv("WRK_PATH") or "/sessions/whoami"
local header = (tokens[1] or ""):find("=", 1, true) and "Cookie" or "X-Session-Token"
local i = 0

function setup(thread)
  thread:set("offset", math.random(#tokens))
end

function init(args)
  i = (offset or 0) % #tokens
end

function request()
  i = i % #tokens + 1
  return wrk.format("GET", path, { [header] = tokens[i] })
end
