using System.Diagnostics;
using System.Reflection;
using OrleansSessions.Telemetry;

namespace OrleansSessions.Storage;

/// <summary>
/// Wraps a store interface so that every asynchronous call is timed (<see cref="ServiceTelemetry.StoreDuration"/>)
/// and traced (an activity <c>store.&lt;Operation&gt;</c> under the grain call that made it). Arguments are never
/// recorded: they include identifiers and hashes.
/// </summary>
public class InstrumentedStore : DispatchProxy
{
    private object _target = null!;

    public static T Wrap<T>(T target) where T : class
    {
        var proxy = Create<T, InstrumentedStore>();
        ((InstrumentedStore)(object)proxy)._target = target;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? method, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(method);
        if (!typeof(Task).IsAssignableFrom(method.ReturnType))
            return Call(method, args);
        var operation = method.Name.EndsWith("Async", StringComparison.Ordinal) ? method.Name[..^5] : method.Name;
        var started = Stopwatch.GetTimestamp();
        // The activity must not stay current for the caller after this returns: the call's own code has
        // already captured it by its first await.
        var previous = Activity.Current;
        var activity = ServiceTelemetry.Source.StartActivity($"store.{operation}", ActivityKind.Client);
        Task task;
        try
        {
            task = (Task)Call(method, args)!;
        }
        catch (Exception e)
        {
            Finish(activity, operation, started, e);
            throw;
        }
        finally
        {
            Activity.Current = previous;
        }
        task.ContinueWith(static (t, state) =>
        {
            var (activity, operation, started) = ((Activity?, string, long))state!;
            Finish(activity, operation, started, t.Exception?.InnerException);
        }, (activity, operation, started), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return task;
    }

    private object? Call(MethodInfo method, object?[]? args)
    {
        try
        {
            return method.Invoke(_target, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    private static void Finish(Activity? activity, string operation, long started, Exception? error)
    {
        var outcome = error is null ? "ok" : "error";
        ServiceTelemetry.StoreDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds,
            new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("outcome", outcome));
        if (activity is null)
            return;
        if (error is not null)
            activity.SetStatus(ActivityStatusCode.Error, error.GetType().Name);
        activity.Dispose();
    }
}
