namespace OrleansSessions.Login;

/// <summary>
/// The grain storage of login state: on PostgreSQL Orleans' ADO.NET storage (migration 0008's table and queries), on
/// the embedded SQLite default <see cref="MemoryOnlyGrainStorage"/>. The ADO.NET storage keys a row by the state's
/// name and the grain's key (not its type), so each kind of state has a name of its own; the cleanup deletes by it.
/// </summary>
public static class LoginStorage
{
    /// <summary>The name the storage is registered under.</summary>
    public const string Name = "login";

    /// <summary>A login flow (<see cref="LoginFlowGrain"/>, keyed by flow id).</summary>
    public const string FlowState = "login-flow";

    /// <summary>The newest TOTP time step an identity spent (<c>IdentityGrain</c>, keyed by identity id).</summary>
    public const string TotpStepState = "totp-step";
}
