global using System.Collections.Immutable;
global using System.Text.Json;
global using OrleansSessions.Identities;
global using OrleansSessions.Json;
global using OrleansSessions.Sessions;
global using OrleansSessions.Storage;
global using Xunit;
