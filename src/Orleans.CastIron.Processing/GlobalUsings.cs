global using System.Collections.Immutable;
global using Microsoft.Extensions.Logging;
global using Orleans.CastIron.Config;
global using Orleans.CastIron.Jobs;
