namespace OrleansSessions.Storage;

/// <summary>
/// The durable store could not be reached (connection refused or dropped, server shutting down, database
/// busy): nothing was acknowledged, and the same request may succeed later. A silo raises it in place of the
/// provider's exception, which stays in the silo's log: that one may name hosts, and an API node may not know
/// its type. The API answers it with 503.
/// </summary>
[GenerateSerializer, Alias("os.StoreUnavailableException")]
public sealed class StoreUnavailableException : Exception
{
    public StoreUnavailableException() : base("The store cannot be reached; retry later.")
    {
    }

    public StoreUnavailableException(string message) : base(message)
    {
    }
}
