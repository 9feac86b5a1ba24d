global using System.Collections.Immutable;
global using Microsoft.Extensions.Logging;
global using Orleans.CastIron.Files;
global using Orleans.CastIron.Storage;
