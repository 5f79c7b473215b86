using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OrleansSessions.Api.Tests.Fuzz;

/// <summary>
/// A log capture for long runs: instead of keeping every entry (as <c>LogCapture</c> does), it keeps entries only
/// until it is told the secrets to watch for, then checks each entry as it is written and keeps only what
/// matters: entries that hold a secret (the secret itself is never kept) and errors of the API and the server.
/// Memory stays bounded however long a soak runs.
/// </summary>
public sealed class LogWatch : ILoggerProvider
{
    public sealed record Entry(LogLevel Level, string Category, string Message, string? Exception);

    private const int Kept = 50;
    private readonly Lock _gate = new();
    private List<Entry>? _early = [];
    private string[] _secrets = [];
    private long _count;
    private readonly ConcurrentQueue<string> _leaks = new();
    private readonly ConcurrentQueue<Entry> _errors = new();
    private int _leakCount;
    private int _errorCount;

    public long Count => Interlocked.Read(ref _count);
    public int LeakCount => _leakCount;
    public IReadOnlyCollection<string> Leaks => _leaks;
    public int ErrorCount => _errorCount;
    public IReadOnlyCollection<Entry> Errors => _errors;

    public void AddTo(IServiceCollection services) => services.AddSingleton<ILoggerProvider>(this);

    /// <summary>From now on, every entry (and every one written so far) is searched for these.</summary>
    public void Watch(IEnumerable<string> secrets)
    {
        List<Entry> early;
        lock (_gate)
        {
            _secrets = [.. secrets];
            early = _early ?? [];
            _early = null;
        }
        foreach (var entry in early)
            Check(entry);
    }

    private void Write(Entry entry)
    {
        Interlocked.Increment(ref _count);
        if (entry.Level >= LogLevel.Error && (entry.Category.StartsWith("OrleansSessions", StringComparison.Ordinal)
            || entry.Category.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)))
        {
            if (Interlocked.Increment(ref _errorCount) <= Kept)
                _errors.Enqueue(entry);
        }
        if (Volatile.Read(ref _early) is not null)
        {
            lock (_gate)
            {
                if (_early is not null)
                {
                    _early.Add(entry);
                    return;
                }
            }
        }
        Check(entry);
    }

    private void Check(Entry entry)
    {
        foreach (var secret in Volatile.Read(ref _secrets))
        {
            if (entry.Message.Contains(secret, StringComparison.Ordinal) || entry.Exception?.Contains(secret, StringComparison.Ordinal) == true
                || entry.Category.Contains(secret, StringComparison.Ordinal))
            {
                if (Interlocked.Increment(ref _leakCount) <= Kept)
                    _leaks.Enqueue($"{entry.Level} {entry.Category}: a secret of {secret.Length} characters in an entry of {entry.Message.Length} characters");
                return;
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogWatch watch, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            watch.Write(new Entry(logLevel, category, formatter(state, exception), exception?.ToString()));
    }
}
