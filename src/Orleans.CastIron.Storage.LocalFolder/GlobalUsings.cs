global using System.Collections.Immutable;
global using Orleans.CastIron.Events;
global using Orleans.CastIron.Files;
global using Orleans.CastIron.Storage;
