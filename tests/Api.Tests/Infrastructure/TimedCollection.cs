namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>Tests whose figures are quoted or that depend on timing: they run alone, after the tests that run in parallel.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimedCollection
{
    public const string Name = "Timed, alone";
}
