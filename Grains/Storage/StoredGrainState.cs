using Orleans.Storage;

namespace OrleansSessions.Storage;

/// <summary>
/// One grain's state in an Orleans grain storage, read by its first use rather than at activation (a store that cannot
/// be reached then fails that call, which <see cref="StoreUnavailableFilter"/> turns into a 503, not the activation),
/// and replaced whole: a write the storage refused leaves the held state as it was, so memory never holds what the
/// storage does not.
/// </summary>
public sealed class StoredGrainState<TState>(IGrainStorage storage, string stateName, GrainId grain) where TState : class, new()
{
    private GrainState<TState>? _held;

    /// <summary>The state, read from the storage the first time (a new one when it holds none).</summary>
    public async ValueTask<TState> ReadAsync()
    {
        if (_held is null)
        {
            var read = new GrainState<TState>(new TState());
            await storage.ReadStateAsync(stateName, grain, read);
            _held = read;
        }
        return _held.State ??= new TState();
    }

    /// <summary>Stores <paramref name="next"/> in place of the state read; on failure the held state is unchanged.</summary>
    public async Task WriteAsync(TState next)
    {
        var held = _held ?? throw new InvalidOperationException("The state is written only after it was read.");
        var previous = held.State;
        held.State = next;
        try
        {
            await storage.WriteStateAsync(stateName, grain, held);
        }
        catch
        {
            held.State = previous;
            throw;
        }
    }

    /// <summary>Forgets what was read (after a version conflict), so the next <see cref="ReadAsync"/> reads again.</summary>
    public void Forget() => _held = null;
}
