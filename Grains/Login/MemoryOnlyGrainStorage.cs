using Orleans.Storage;

namespace OrleansSessions.Login;

/// <summary>
/// A grain storage that keeps nothing: reads find no state and writes succeed, so the grain's state lives in its
/// activation only. The login flows' storage on the embedded SQLite default, whose single node has no other silo to
/// take a flow up; on PostgreSQL, Orleans' ADO.NET storage replaces it.
/// </summary>
public sealed class MemoryOnlyGrainStorage : IGrainStorage
{
    public static readonly MemoryOnlyGrainStorage Instance = new();

    private MemoryOnlyGrainStorage()
    {
    }

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Task.CompletedTask;

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        grainState.State = Activator.CreateInstance<T>();
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }
}
