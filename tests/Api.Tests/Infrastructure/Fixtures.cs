namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>One node in development mode, shared by the tests of a class.</summary>
public class DevNodeFixture : IAsyncLifetime
{
    private ServiceNode? _node;

    public ServiceNode Node => _node ?? throw new InvalidOperationException("The node has not started.");

    protected virtual NodeOptions Options => new() { Dev = true };

    public async Task InitializeAsync() => _node = await ServiceNode.StartAsync(Options);

    public async Task DisposeAsync()
    {
        if (_node is not null)
            await _node.DisposeAsync();
    }
}

/// <summary>One node with <c>--dev=false</c> (production cookie attributes).</summary>
public sealed class ProductionNodeFixture : DevNodeFixture
{
    protected override NodeOptions Options => new() { Dev = false };
}
