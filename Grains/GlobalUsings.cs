global using Orleans.Concurrency;
global using OrleansSessions.Identities;
global using OrleansSessions.Sessions;
