namespace OrleansSessions.Identities;

/// <summary>An identity as stored. JSON members are kept as raw JSON text.</summary>
[GenerateSerializer, Immutable, Alias("os.IdentityRecord")]
public sealed record IdentityRecord
{
    public const string StateActive = "active";
    public const string StateInactive = "inactive";

    [Id(0)] public required Guid Id { get; init; }
    [Id(1)] public required string SchemaId { get; init; }
    [Id(2)] public required string State { get; init; }
    [Id(3)] public DateTimeOffset? StateChangedAt { get; init; }
    /// <summary>The traits object, as JSON text.</summary>
    [Id(4)] public required string Traits { get; init; }
    /// <summary>JSON text, or null when unset.</summary>
    [Id(5)] public string? MetadataPublic { get; init; }
    /// <summary>JSON text, or null when unset; only ever shown on the admin API.</summary>
    [Id(6)] public string? MetadataAdmin { get; init; }
    [Id(7)] public string? ExternalId { get; init; }
    [Id(8)] public required DateTimeOffset CreatedAt { get; init; }
    [Id(9)] public required DateTimeOffset UpdatedAt { get; init; }
    /// <summary>Incremented by every change; the newest copy of an identity is the one with the highest version.</summary>
    [Id(10)] public long Version { get; init; }
    /// <summary>The highest AAL the identity's credentials allow: aal2 with a TOTP credential, aal1 otherwise.</summary>
    [Id(11)] public string AvailableAal { get; init; } = AuthenticatorAssurance.Aal1;

    public bool IsActive => State == StateActive;
}
