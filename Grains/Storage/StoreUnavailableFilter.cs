using Microsoft.Extensions.Logging;

namespace OrleansSessions.Storage;

/// <summary>
/// A grain call that failed because the store could not be reached fails with <see cref="StoreUnavailableException"/>
/// instead, whichever statement of whichever grain hit it: callers (the API, other grains, other silos) see one
/// type, which the API answers with 503. The provider's exception is logged here, on the silo that saw it.
/// </summary>
public sealed class StoreUnavailableFilter(IStoreFailures failures, ILogger<StoreUnavailableFilter> log) : IIncomingGrainCallFilter
{
    public Task Invoke(IIncomingGrainCallContext context)
    {
        var call = context.Invoke();
        // The whoami path completes synchronously from memory: no state machine for it.
        return call.IsCompletedSuccessfully ? Task.CompletedTask : TranslateAsync(call, context);
    }

    private async Task TranslateAsync(Task call, IIncomingGrainCallContext context)
    {
        try
        {
            await call;
        }
        catch (Exception e) when (e is not StoreUnavailableException && failures.IsUnavailable(e))
        {
            log.LogWarning(e, "The store could not be reached during {Interface}.{Method}; the caller is told to retry later",
                context.InterfaceName, context.MethodName);
            throw new StoreUnavailableException();
        }
    }
}
