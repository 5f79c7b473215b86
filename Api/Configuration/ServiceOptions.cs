using Microsoft.Extensions.Configuration;

namespace OrleansSessions.Api.Configuration;

/// <summary>One listener (configuration <c>serve:public</c> or <c>serve:admin</c>, Kratos's <c>serve.*</c>).</summary>
public sealed class ListenerOptions
{
    public string Host { get; set; } = "127.0.0.1";

    public int Port { get; set; }

    /// <summary>The URL clients reach this listener at; defaults to http://host:port/.</summary>
    [ConfigurationKeyName("base_url")]
    public string? BaseUrl { get; set; }

    /// <summary>HTTPS on this listener when a certificate is configured (<c>serve:*:tls</c>).</summary>
    public CertificateSource Tls { get; set; } = new();

    public string EffectiveBaseUrl => (BaseUrl ?? $"{(Tls.IsEnabled ? "https" : "http")}://{Host}:{Port}/").TrimEnd('/') + "/";
}

/// <summary>Configuration section <c>serve</c>.</summary>
public sealed class ServeOptions
{
    public const string Section = "serve";

    public ListenerOptions Public { get; set; } = new() { Port = 4433 };

    public ListenerOptions Admin { get; set; } = new() { Port = 4434 };
}

/// <summary>Configuration section <c>session</c> (Kratos's <c>session.*</c> keys).</summary>
public sealed class SessionSettings
{
    public const string Section = "session";

    /// <summary><c>session.lifespan</c>: how long a new session lives (default 24h).</summary>
    [ConfigurationKeyName("lifespan")]
    public string LifespanText { get; set; } = "24h";

    /// <summary><c>session.earliest_possible_extend</c>: an admin extend only renews a session that expires within this (default: the lifespan, so always).</summary>
    [ConfigurationKeyName("earliest_possible_extend")]
    public string? EarliestPossibleExtendText { get; set; }

    public SessionCookieOptions Cookie { get; set; } = new();

    public WhoamiOptions Whoami { get; set; } = new();

    /// <summary>Parsed <see cref="LifespanText"/>, set once at start-up.</summary>
    public TimeSpan ParsedLifespan => _lifespan;

    /// <summary>Parsed <see cref="EarliestPossibleExtendText"/>, the lifespan when unset.</summary>
    public TimeSpan ParsedEarliestPossibleExtend => _earliestPossibleExtend;

    private TimeSpan _lifespan;
    private TimeSpan _earliestPossibleExtend;

    internal void Resolve()
    {
        _lifespan = GoDuration.Parse(LifespanText, "session:lifespan");
        if (_lifespan <= TimeSpan.Zero)
            throw new OptionsValidationException("session:lifespan", typeof(SessionSettings), ["session:lifespan must be positive."]);
        _earliestPossibleExtend = EarliestPossibleExtendText is null ? _lifespan
            : GoDuration.Parse(EarliestPossibleExtendText, "session:earliest_possible_extend");
        // Browsers keep a __Host- cookie only when it is Secure, on Path=/ and without Domain; __Secure- needs Secure.
        if (Cookie.HasHostPrefix && (!string.IsNullOrEmpty(Cookie.Domain) || Cookie.Path != "/" || Cookie.Secure == false))
            throw new OptionsValidationException("session:cookie:name", typeof(SessionSettings),
                ["A session cookie named __Host-… needs session:cookie:path=/, no session:cookie:domain, and session:cookie:secure not false."]);
        if (Cookie.HasSecurePrefix && Cookie.Secure == false)
            throw new OptionsValidationException("session:cookie:name", typeof(SessionSettings),
                ["A session cookie named __Secure-… needs session:cookie:secure not false."]);
        if (Whoami.RequiredAal is not ("highest_available" or AuthenticatorAssurance.Aal1))
            throw new OptionsValidationException("session:whoami:required_aal", typeof(SessionSettings),
                ["session:whoami:required_aal must be highest_available or aal1."]);
    }
}

/// <summary><c>session.whoami.*</c>.</summary>
public sealed class WhoamiOptions
{
    /// <summary><c>highest_available</c> (default): a session below what the identity's credentials allow answers 403; <c>aal1</c>: any session.</summary>
    [ConfigurationKeyName("required_aal")]
    public string RequiredAal { get; set; } = "highest_available";

    public bool RequiresHighestAvailable => RequiredAal != AuthenticatorAssurance.Aal1;
}

/// <summary><c>session.cookie.*</c>.</summary>
public sealed class SessionCookieOptions
{
    public string Name { get; set; } = "ory_kratos_session";

    public string? Domain { get; set; }

    public string Path { get; set; } = "/";

    [ConfigurationKeyName("same_site")]
    public string SameSite { get; set; } = "Lax";

    /// <summary>Unset: secure unless in dev mode (always with a <c>__Host-</c> or <c>__Secure-</c> name).</summary>
    public bool? Secure { get; set; }

    public bool HasHostPrefix => Name.StartsWith("__Host-", StringComparison.Ordinal);

    public bool HasSecurePrefix => HasHostPrefix || Name.StartsWith("__Secure-", StringComparison.Ordinal);

    /// <summary>When true (default) the cookie carries Max-Age until the session expires.</summary>
    public bool Persistent { get; set; } = true;

    /// <summary>
    /// How many opened cookie values a node keeps, so that a browser's next whoami skips the decryption (0: none).
    /// Only values that opened are kept, each for at most <see cref="Sessions.OpenedCookies.MaxAge"/>.
    /// </summary>
    [ConfigurationKeyName("opened_cache_size")]
    public int OpenedCacheSize { get; set; } = 100_000;
}

/// <summary>Whether the node runs in development mode (configuration key <c>dev</c>, Kratos's <c>--dev</c>).</summary>
public sealed record DevMode(bool Enabled);
