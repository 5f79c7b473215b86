global using OrleansSessions.Identities;
global using OrleansSessions.Sessions;
global using Orleans.Concurrency;
