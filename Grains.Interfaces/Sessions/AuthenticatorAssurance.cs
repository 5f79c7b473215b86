namespace OrleansSessions.Sessions;

/// <summary>Kratos's authenticator assurance levels and how a session's level follows from its factors.</summary>
public static class AuthenticatorAssurance
{
    public const string Aal0 = "aal0";
    public const string Aal1 = "aal1";
    public const string Aal2 = "aal2";

    public static bool IsFactorLevel(string aal) => aal is Aal1 or Aal2;

    /// <summary>As Kratos: no factor is aal0, a first and a second factor together are aal2, anything else aal1.</summary>
    public static string Of(IEnumerable<string> factorLevels)
    {
        bool any = false, first = false, second = false;
        foreach (var level in factorLevels)
        {
            any = true;
            first |= level == Aal1;
            second |= level == Aal2;
        }
        return !any ? Aal0 : first && second ? Aal2 : Aal1;
    }
}
