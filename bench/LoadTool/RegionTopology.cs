using System.Globalization;
using System.Net;
using System.Text.Json;

namespace OrleansSessions.Bench;

/// <summary>
/// One region of a running multi-region deployment as the tool reaches it: its public and admin URLs (each region
/// is a cluster of its own; the tool spreads its calls over the region's nodes as a regional load balancer would)
/// and, when given, the code its session tokens carry after <c>ory_st_</c>.
/// </summary>
public sealed record RegionSpec(string Name, IReadOnlyList<Uri> Public, IReadOnlyList<Uri> Admin, char? Code)
{
    /// <summary>deploy/local-regions.sh: region k has public 4400+10k(+2) and admin 4401+10k(+2), codes e, u, a.</summary>
    public static IReadOnlyList<RegionSpec> LocalRegions { get; } =
    [
        .. new[] { ("eu", 'e'), ("us", 'u'), ("ap", 'a') }.Select((region, k) => new RegionSpec(region.Item1,
            [Local(4400 + 10 * k), Local(4402 + 10 * k)], [Local(4401 + 10 * k), Local(4403 + 10 * k)], region.Item2)),
    ];

    private static Uri Local(int port) => new($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");

    /// <summary>The --region options in order, or the local regions when none is given.</summary>
    public static IReadOnlyList<RegionSpec> ParseAll(IReadOnlyList<string> specs)
    {
        if (specs.Count == 0) return LocalRegions;
        var regions = specs.Select(Parse).ToList();
        if (regions.Count < 2) throw new FormatException("--region: give at least two regions (or none, for deploy/local-regions.sh's three)");
        var twice = regions.GroupBy(r => r.Name).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new FormatException($"--region: {twice.Key} is given twice");
        var sameCode = regions.Where(r => r.Code is not null).GroupBy(r => r.Code).FirstOrDefault(g => g.Count() > 1);
        if (sameCode is not null) throw new FormatException($"--region: code {sameCode.Key} is given to {string.Join(" and ", sameCode.Select(r => r.Name))}");
        return regions;
    }

    /// <summary><c>eu=http://a:4400,http://a:4402;admin=http://a:4401;code=e</c>.</summary>
    public static RegionSpec Parse(string spec)
    {
        var parts = spec.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var equals = parts.Length == 0 ? -1 : parts[0].IndexOf('=');
        if (equals <= 0) throw new FormatException($"--region: say NAME=PUBLIC_URL[,URL...];admin=URL[,URL...][;code=C], not '{spec}'");
        var name = parts[0][..equals].Trim();
        if (!IsName(name)) throw new FormatException($"--region: '{name}' is not a region name (1-30 of a-z, 0-9, _ starting with a letter, as regions:name)");
        var publicUrls = Urls(parts[0][(equals + 1)..], $"--region {name}");
        IReadOnlyList<Uri>? admin = null;
        char? code = null;
        foreach (var part in parts.Skip(1))
        {
            var eq = part.IndexOf('=');
            var key = eq < 0 ? part : part[..eq].Trim();
            var value = eq < 0 ? "" : part[(eq + 1)..].Trim();
            switch (key)
            {
                case "admin":
                    admin = Urls(value, $"--region {name} admin");
                    break;
                case "code" when value.Length == 1 && char.IsAsciiLetterOrDigit(value[0]):
                    code = value[0];
                    break;
                case "code":
                    throw new FormatException($"--region {name}: code is one character of A-Z, a-z, 0-9 (regions:code)");
                default:
                    throw new FormatException($"--region {name}: unknown key '{key}' (admin, code)");
            }
        }
        return new RegionSpec(name, publicUrls, admin ?? throw new FormatException($"--region {name}: admin=URL is missing (seeding and revoking go through it)"), code);
    }

    /// <summary>Two regions named <c>A-B</c> among <paramref name="regions"/>.</summary>
    public static (RegionSpec A, RegionSpec B) ParsePair(string text, IReadOnlyList<RegionSpec> regions)
    {
        var names = text.Split('-', StringSplitOptions.TrimEntries);
        if (names.Length != 2 || names[0] == names[1])
            throw new FormatException($"--cut: say A-B with two different regions, not '{text}'");
        RegionSpec Find(string name) => regions.FirstOrDefault(r => r.Name == name)
            ?? throw new FormatException($"--cut: no region {name} (regions: {string.Join(", ", regions.Select(r => r.Name))})");
        return (Find(names[0]), Find(names[1]));
    }

    private static bool IsName(string name) =>
        name.Length is >= 1 and <= 30 && char.IsAsciiLetterLower(name[0]) && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_');

    private static IReadOnlyList<Uri> Urls(string list, string what)
    {
        var urls = new List<Uri>();
        foreach (var text in list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                throw new FormatException($"{what}: not an http(s) URL: '{text}'");
            urls.Add(url);
        }
        return urls.Count > 0 ? urls : throw new FormatException($"{what}: no URL");
    }
}

/// <summary>
/// The control endpoint of the LinkProxy that carries the connections <see cref="From"/>'s nodes and database open
/// to <see cref="To"/>'s database. Both directions of those connections go through it (a query and its answer, a
/// subscription and the changes it streams back), each delayed by its one-way delay.
/// </summary>
public sealed record LinkSpec(string From, string To, Uri Control)
{
    public string Name => $"{From} -> {To}";

    /// <summary>The --link options, or for every ordered pair of regions x, y the control port 6100+10x+y on 127.0.0.1.</summary>
    public static IReadOnlyList<LinkSpec> ParseAll(IReadOnlyList<string> specs, IReadOnlyList<RegionSpec> regions)
    {
        if (specs.Count == 0)
            return [.. from x in Enumerable.Range(0, regions.Count)
                       from y in Enumerable.Range(0, regions.Count)
                       where x != y
                       select new LinkSpec(regions[x].Name, regions[y].Name, new Uri($"http://127.0.0.1:{(6100 + 10 * x + y).ToString(CultureInfo.InvariantCulture)}/"))];
        var links = new List<LinkSpec>();
        foreach (var spec in specs)
        {
            var equals = spec.IndexOf('=');
            var names = equals <= 0 ? [] : spec[..equals].Split('-', StringSplitOptions.TrimEntries);
            if (names.Length != 2 || !Uri.TryCreate(spec[(equals + 1)..].Trim(), UriKind.Absolute, out var url))
                throw new FormatException($"--link: say FROM-TO=CONTROL_URL, not '{spec}'");
            foreach (var name in names)
                if (regions.All(r => r.Name != name))
                    throw new FormatException($"--link: no region {name} (regions: {string.Join(", ", regions.Select(r => r.Name))})");
            if (names[0] == names[1]) throw new FormatException($"--link: {spec[..equals]} links a region to itself");
            links.Add(new LinkSpec(names[0], names[1], url));
        }
        var twice = links.GroupBy(l => l.Name).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new FormatException($"--link: {twice.Key} is given twice");
        return links;
    }
}

/// <summary>The parts of the regions scenario that --parts selects.</summary>
[Flags]
public enum RegionParts
{
    None = 0,
    Steady = 1,
    First = 2,
    Revoke = 4,
    Cut = 8,
}

public static class RegionPartsList
{
    public static bool TryParse(string list, out RegionParts parts, out string error)
    {
        parts = RegionParts.None;
        error = "";
        foreach (var name in list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var part = name.ToLowerInvariant() switch
            {
                "steady" => RegionParts.Steady,
                "first" => RegionParts.First,
                "revoke" => RegionParts.Revoke,
                "cut" => RegionParts.Cut,
                _ => RegionParts.None,
            };
            if (part == RegionParts.None)
            {
                error = $"unknown part '{name}' (steady, first, revoke, cut)";
                return false;
            }
            parts |= part;
        }
        if (parts == RegionParts.None) error = "name at least one part (steady, first, revoke, cut)";
        return parts != RegionParts.None;
    }
}

/// <summary>What a link's control endpoint answers (GET /, and after every POST).</summary>
public sealed record LinkState(double DelayMs, bool Cut, long Connections, int Open);

/// <summary>Reads, cuts and restores links through their control endpoints (bench/LinkProxy's ControlEndpoint).</summary>
public sealed class LinkControl : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseCookies = false, UseProxy = false, PooledConnectionLifetime = TimeSpan.Zero })
    {
        Timeout = TimeSpan.FromSeconds(5),
    };

    public Task<LinkState> ReadAsync(LinkSpec link, CancellationToken cancellation) => SendAsync(link, HttpMethod.Get, "", cancellation);

    public Task<LinkState> CutAsync(LinkSpec link, CancellationToken cancellation) => SendAsync(link, HttpMethod.Post, "cut", cancellation);

    public Task<LinkState> RestoreAsync(LinkSpec link, CancellationToken cancellation) => SendAsync(link, HttpMethod.Post, "restore", cancellation);

    private async Task<LinkState> SendAsync(LinkSpec link, HttpMethod method, string path, CancellationToken cancellation)
    {
        HttpStatusCode status;
        string text;
        try
        {
            using var request = new HttpRequestMessage(method, new Uri(link.Control, path));
            // The endpoint reads a body if one is announced; an empty one keeps every HTTP stack happy.
            if (method == HttpMethod.Post) request.Content = new ByteArrayContent([]);
            using var response = await _http.SendAsync(request, cancellation);
            status = response.StatusCode;
            text = await response.Content.ReadAsStringAsync(cancellation);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellation.IsCancellationRequested)
        {
            throw new HttpRequestException($"link {link.Name}: its control endpoint {link.Control} does not answer ({exception.Message}); is deploy/local-regions.sh running? (or give --link {link.From}-{link.To}=URL)");
        }
        if ((int)status is < 200 or > 299)
            throw new HttpRequestException($"link {link.Name} ({link.Control}): {method} /{path} answered {(int)status} {text}");
        try
        {
            using var json = JsonDocument.Parse(text);
            var root = json.RootElement;
            return new LinkState(root.GetProperty("delay_ms").GetDouble(), root.GetProperty("cut").GetBoolean(),
                root.GetProperty("connections").GetInt64(), root.GetProperty("open").GetInt32());
        }
        catch (Exception exception) when (exception is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new HttpRequestException($"link {link.Name} ({link.Control}): not a LinkProxy control endpoint ({exception.Message})");
        }
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>
/// Single whoami calls for the checks and probes of the regions scenario (the steady loads use <see cref="WhoamiLoad"/>):
/// the status, or 0 with the exception's type when no answer came. Credentials go into the header, never anywhere else.
/// </summary>
public sealed class WhoamiProbe : IDisposable
{
    private readonly HttpMessageInvoker _invoker;
    private readonly TimeSpan _timeout;

    public WhoamiProbe(int connectionsPerNode, TimeSpan timeout)
    {
        _timeout = timeout;
        _invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connectionsPerNode,
            UseCookies = false,
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        });
    }

    public readonly record struct Answer(int Status, string? Failure, long SentAt, long AnsweredAt)
    {
        public double Milliseconds => (AnsweredAt - SentAt) * 1000.0 / System.Diagnostics.Stopwatch.Frequency;
        public string Kind => Failure is not null ? $"exception: {Failure}" : Status.ToString(CultureInfo.InvariantCulture);
    }

    public async Task<Answer> AskAsync(Uri node, Credential credential, CancellationToken cancellation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(_timeout);
        var sent = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(node, "/sessions/whoami"));
            request.Headers.TryAddWithoutValidation(credential.HeaderName, credential.HeaderValue);
            using var response = await _invoker.SendAsync(request, timeout.Token);
            // Read to the end, so that the connection goes back to the pool.
            await response.Content.LoadIntoBufferAsync(timeout.Token);
            return new Answer((int)response.StatusCode, null, sent, System.Diagnostics.Stopwatch.GetTimestamp());
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return new Answer(0, "timeout", sent, System.Diagnostics.Stopwatch.GetTimestamp());
        }
        catch (HttpRequestException exception)
        {
            return new Answer(0, exception.HttpRequestError.ToString(), sent, System.Diagnostics.Stopwatch.GetTimestamp());
        }
    }

    public void Dispose() => _invoker.Dispose();
}
