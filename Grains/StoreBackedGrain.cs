namespace OrleansSessions;

/// <summary>
/// A grain whose state is read from the store on first use after activation (not in
/// <c>OnActivateAsync</c>, so a grain that is about to be created costs no read).
/// </summary>
public abstract class StoreBackedGrain : Grain
{
    private Task? _loading;

    /// <summary>Reads this grain's state from the store.</summary>
    protected abstract Task LoadAsync();

    /// <summary>Whether the state is in memory (read, or just created).</summary>
    protected bool IsLoaded => _loading is { IsCompletedSuccessfully: true };

    /// <summary>The state is already in memory (it was just created); no read is needed.</summary>
    protected void MarkLoaded() => _loading = Task.CompletedTask;

    /// <summary>
    /// Called by <see cref="LoadAsync"/>: what it read is not to be kept as loaded, so the next call reads again (with
    /// regions, a row that is not here yet may be a moment from arriving).
    /// </summary>
    protected void ReadAgainNextTime() => _loading = null;

    /// <summary>Reads the state again (the store has a newer copy than the one in memory).</summary>
    protected Task ReloadAsync()
    {
        _loading = null;
        return EnsureLoadedAsync();
    }

    /// <summary>Reads the store once per activation; a failed read is retried by the next call.</summary>
    protected async Task EnsureLoadedAsync()
    {
        var loading = _loading ??= LoadAsync();
        try
        {
            await loading;
            // Loaded: hold the shared completed task rather than the finished load (its state machine and what it captured).
            if (ReferenceEquals(_loading, loading))
                _loading = Task.CompletedTask;
        }
        catch
        {
            if (ReferenceEquals(_loading, loading))
                _loading = null;
            throw;
        }
    }
}
