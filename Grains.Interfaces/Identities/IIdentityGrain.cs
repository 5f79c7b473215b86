namespace OrleansSessions.Identities;

/// <summary>One identity: its record, and the issuing of its sessions.</summary>
[Alias("os.IIdentityGrain")]
public interface IIdentityGrain : IGrainWithGuidKey
{
    /// <summary>Stores a new identity with this grain's id; false when the id or external id is taken.</summary>
    [Alias("Create")]
    Task<IdentityCreateResult> CreateAsync(IdentityDraft draft);

    /// <summary>The identity, or null when it does not exist.</summary>
    [ReadOnly, Alias("Get")]
    Task<IdentityRecord?> GetAsync();

    /// <summary>Issues a session for this identity under the given lookup key.</summary>
    [Alias("IssueSession")]
    Task<SessionIssueResult> IssueSessionAsync(SessionIssueCommand command);
}

/// <summary>What an admin supplies to create an identity.</summary>
[GenerateSerializer, Immutable, Alias("os.IdentityDraft")]
public sealed record IdentityDraft
{
    [Id(0)] public required string SchemaId { get; init; }
    [Id(1)] public required string State { get; init; }
    [Id(2)] public required string Traits { get; init; }
    [Id(3)] public string? MetadataPublic { get; init; }
    [Id(4)] public string? MetadataAdmin { get; init; }
    [Id(5)] public string? ExternalId { get; init; }
}

[GenerateSerializer, Alias("os.IdentityCreateOutcome")]
public enum IdentityCreateOutcome
{
    Created = 0,
    /// <summary>The id or the external id is already in use.</summary>
    Conflict = 1,
}

[GenerateSerializer, Immutable, Alias("os.IdentityCreateResult")]
public sealed record IdentityCreateResult
{
    [Id(0)] public required IdentityCreateOutcome Outcome { get; init; }
    [Id(1)] public IdentityRecord? Identity { get; init; }
}

/// <summary>A request to issue a session. The secret stays with the caller; only its hash travels.</summary>
[GenerateSerializer, Immutable, Alias("os.SessionIssueCommand")]
public sealed record SessionIssueCommand
{
    [Id(0)] public required string LookupKey { get; init; }
    [Id(1)] public required SessionChannel Channel { get; init; }
    [Id(2)] public required TimeSpan Lifespan { get; init; }
    /// <summary>Methods completed; each <see cref="AuthenticationMethod.CompletedAt"/> is set at issuance.</summary>
    [Id(3)] public required System.Collections.Immutable.ImmutableArray<RequestedMethod> Methods { get; init; }
    [Id(4)] public string? IpAddress { get; init; }
    [Id(5)] public string? UserAgent { get; init; }
    [Id(6)] public string? Location { get; init; }
}

/// <summary>A factor the issuer vouches the user completed.</summary>
[GenerateSerializer, Immutable, Alias("os.RequestedMethod")]
public sealed record RequestedMethod
{
    [Id(0)] public required string Method { get; init; }
    [Id(1)] public required string Aal { get; init; }
}

[GenerateSerializer, Alias("os.SessionIssueOutcome")]
public enum SessionIssueOutcome
{
    Issued = 0,
    IdentityNotFound = 1,
    IdentityDisabled = 2,
}

[GenerateSerializer, Immutable, Alias("os.SessionIssueResult")]
public sealed record SessionIssueResult
{
    [Id(0)] public required SessionIssueOutcome Outcome { get; init; }
    [Id(1)] public SessionView? Issued { get; init; }
}
