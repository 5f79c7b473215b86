using System.Collections.Concurrent;

namespace OrleansSessions.Tests.Infrastructure;

/// <summary>
/// An incoming grain call filter (add it with <c>silo.AddIncomingGrainCallFilter(signals)</c>) that tells
/// a test when a grain has started to run a given method: the method has then run up to its first await.
/// </summary>
public sealed class CallsStarted : IIncomingGrainCallFilter
{
    private readonly ConcurrentDictionary<(GrainId Grain, string Method), TaskCompletionSource> _waiters = new();

    /// <summary>Completes when <paramref name="grain"/> next starts <paramref name="method"/> (call before sending it).</summary>
    public Task NextAsync(IAddressable grain, string method) =>
        _waiters.GetOrAdd((grain.GetGrainId(), method), _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        var method = context.ImplementationMethod?.Name ?? context.MethodName;
        var started = _waiters.TryRemove((context.TargetId, method), out var waiter) ? waiter : null;
        var invoked = context.Invoke();
        started?.TrySetResult();
        await invoked;
    }
}
