using System.Collections.Immutable;

namespace OrleansSessions.Login;

/// <summary>
/// One login flow (Kratos's <c>loginFlow</c>), held in memory by the silo that activated it and
/// reachable from every node by its id. On PostgreSQL every change is also stored (Orleans' grain storage), so a
/// flow survives a restart or crash of the silo that held it; on the embedded SQLite default it lives in memory only.
/// </summary>
[Alias("os.ILoginFlowGrain")]
public interface ILoginFlowGrain : IGrainWithGuidKey
{
    /// <summary>Holds a new flow until it expires.</summary>
    [Alias("Start")]
    Task StartAsync(LoginFlowRecord flow);

    /// <summary>The flow, or null when it is unknown (never created, or gone from memory).</summary>
    [ReadOnly, Alias("Get")]
    Task<LoginFlowRecord?> GetAsync();

    /// <summary>Records a failed submission: the UI messages to show and the identifier to fill in again. Null when unknown.</summary>
    [Alias("Fail")]
    Task<LoginFlowRecord?> FailAsync(LoginFlowFailure failure);

    /// <summary>
    /// Marks the flow completed; false when it is unknown or was completed already (a flow logs in once). Called
    /// before a session is issued, so that of two submissions of one flow at once exactly one goes on.
    /// </summary>
    [Alias("Complete")]
    Task<bool> CompleteAsync(string method, DateTimeOffset at);

    /// <summary>Undoes <see cref="CompleteAsync"/> when no session came of it (the identity was disabled meanwhile, say).</summary>
    [Alias("Reopen")]
    Task ReopenAsync();
}

/// <summary>A login flow as held. <see cref="Type"/> is the channel the flow issues sessions to (<c>api</c> or <c>browser</c>).</summary>
[GenerateSerializer, Immutable, Alias("os.LoginFlowRecord")]
public sealed record LoginFlowRecord
{
    public const string StateChooseMethod = "choose_method";
    public const string StatePassedChallenge = "passed_challenge";

    [Id(0)] public required Guid Id { get; init; }
    [Id(1)] public required SessionChannel Type { get; init; }
    [Id(2)] public required DateTimeOffset IssuedAt { get; init; }
    [Id(3)] public required DateTimeOffset ExpiresAt { get; init; }
    /// <summary>The URL the flow was created with, as the client sent it (public base URL + path and query).</summary>
    [Id(4)] public required string RequestUrl { get; init; }
    /// <summary>Where a browser goes after the login; already checked against the allow-list.</summary>
    [Id(5)] public string? ReturnTo { get; init; }
    [Id(6)] public bool Refresh { get; init; }
    [Id(7)] public required string RequestedAal { get; init; }
    /// <summary>Browser flows: the (masked) anti-CSRF token of the <c>csrf_token</c> node.</summary>
    [Id(8)] public string? CsrfToken { get; init; }
    /// <summary>Refresh flows: the identifier of the signed-in identity, sent back as a hidden input.</summary>
    [Id(9)] public string? RefreshIdentifier { get; init; }
    /// <summary>The identifier of the last failed submission, filled in again.</summary>
    [Id(10)] public string? Identifier { get; init; }
    /// <summary>The method of the last submission (<c>password</c>, <c>totp</c>).</summary>
    [Id(11)] public string? Active { get; init; }
    [Id(12)] public ImmutableArray<LoginFlowMessage> Messages { get; init; } = [];
    [Id(13)] public string State { get; init; } = StateChooseMethod;
    [Id(14)] public required DateTimeOffset UpdatedAt { get; init; }

    public bool IsExpiredAt(DateTimeOffset now) => ExpiresAt <= now;

    public bool Completed => State == StatePassedChallenge;
}

/// <summary>A UI text (Kratos's <c>uiText</c>) on the flow, or on one of its nodes when <see cref="Node"/> is set.</summary>
[GenerateSerializer, Immutable, Alias("os.LoginFlowMessage")]
public sealed record LoginFlowMessage
{
    [Id(0)] public required long Id { get; init; }
    [Id(1)] public required string Text { get; init; }
    /// <summary><c>info</c>, <c>error</c> or <c>success</c>.</summary>
    [Id(2)] public required string Type { get; init; }
    /// <summary>The name of the node the message belongs to; null for the flow's own messages.</summary>
    [Id(3)] public string? Node { get; init; }
    /// <summary>The <c>context</c> object as JSON text, or null.</summary>
    [Id(4)] public string? Context { get; init; }
}

/// <summary>What a failed submission leaves on the flow: these messages replace the previous ones.</summary>
[GenerateSerializer, Immutable, Alias("os.LoginFlowFailure")]
public sealed record LoginFlowFailure
{
    [Id(0)] public required string? Method { get; init; }
    [Id(1)] public string? Identifier { get; init; }
    [Id(2)] public required ImmutableArray<LoginFlowMessage> Messages { get; init; }
    [Id(3)] public required DateTimeOffset At { get; init; }
}
