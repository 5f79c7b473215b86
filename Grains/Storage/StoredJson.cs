using System.Collections.Immutable;
using System.Text.Json;

namespace OrleansSessions.Storage;

/// <summary>The JSON columns of the sessions table: authentication methods and devices.</summary>
internal static class StoredJson
{
    private static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private sealed record StoredMethod(string Method, string Aal, long CompletedAt);

    private sealed record StoredDevice(Guid Id, string? IpAddress, string? UserAgent, string? Location);

    public static string WriteMethods(ImmutableArray<AuthenticationMethod> methods) =>
        JsonSerializer.Serialize(methods.Select(m => new StoredMethod(m.Method, m.Aal, UnixMicros.From(m.CompletedAt))), Options);

    public static ImmutableArray<AuthenticationMethod> ReadMethods(string json) =>
        [.. JsonSerializer.Deserialize<StoredMethod[]>(json, Options)!.Select(m =>
            new AuthenticationMethod { Method = Shared(m.Method), Aal = Shared(m.Aal), CompletedAt = UnixMicros.To(m.CompletedAt) })];

    /// <summary>
    /// One string for each of the few values every session repeats (levels, methods), rather than a copy per row
    /// read: resident sessions read back from the store share them.
    /// </summary>
    public static string Shared(string value) => value switch
    {
        AuthenticatorAssurance.Aal0 => AuthenticatorAssurance.Aal0,
        AuthenticatorAssurance.Aal1 => AuthenticatorAssurance.Aal1,
        AuthenticatorAssurance.Aal2 => AuthenticatorAssurance.Aal2,
        "password" => "password",
        "totp" => "totp",
        "code" => "code",
        "lookup_secret" => "lookup_secret",
        "webauthn" => "webauthn",
        "oidc" => "oidc",
        _ => value,
    };

    /// <summary>A row's region, one string per region name (there are a handful) for every session that holds it.</summary>
    public static string Region(string value) => value.Length == 0 ? "" : string.Intern(value);

    public static string WriteDevices(ImmutableArray<SessionDevice> devices) =>
        JsonSerializer.Serialize(devices.Select(d => new StoredDevice(d.Id, d.IpAddress, d.UserAgent, d.Location)), Options);

    public static ImmutableArray<SessionDevice> ReadDevices(string json) =>
        [.. JsonSerializer.Deserialize<StoredDevice[]>(json, Options)!.Select(d =>
            new SessionDevice { Id = d.Id, IpAddress = d.IpAddress, UserAgent = d.UserAgent, Location = d.Location })];
}

/// <summary>Timestamps as stored: microseconds since the Unix epoch, UTC.</summary>
internal static class UnixMicros
{
    public static long From(DateTimeOffset value) => (value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    public static DateTimeOffset To(long micros) => new(DateTimeOffset.UnixEpoch.UtcTicks + micros * 10, TimeSpan.Zero);
}
