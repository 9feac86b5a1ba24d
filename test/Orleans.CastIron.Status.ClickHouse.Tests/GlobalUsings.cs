global using System.Collections.Immutable;
global using Orleans.CastIron.Files;
global using Xunit;
