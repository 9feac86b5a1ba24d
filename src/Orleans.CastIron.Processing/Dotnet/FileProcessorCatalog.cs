using System.Reflection;
using System.Runtime.Loader;
using Orleans.CastIron.Processing;

namespace Orleans.CastIron.Processing.Dotnet;

/// <summary>
/// The .NET processors this silo can run, by name: every non-abstract <see cref="IFileProcessor"/> carrying
/// <see cref="FileProcessorAttribute"/> in the loaded assemblies and in the assemblies of the plugins folder (users drop
/// their DLLs there; the equivalent of the seed's Worker_Dockerfile). A name used twice is an error at start.
/// </summary>
public sealed class FileProcessorCatalog
{
    private readonly ImmutableDictionary<string, Type> _processors;

    public FileProcessorCatalog(IEnumerable<Assembly> assemblies)
    {
        var builder = ImmutableDictionary.CreateBuilder<string, Type>(StringComparer.Ordinal);
        foreach (var type in assemblies.Distinct().SelectMany(LoadableTypes))
        {
            if (type.IsAbstract || !typeof(IFileProcessor).IsAssignableFrom(type))
            {
                continue;
            }

            foreach (var attribute in type.GetCustomAttributes<FileProcessorAttribute>())
            {
                if (builder.TryGetValue(attribute.Name, out var existing) && existing != type)
                {
                    throw new InvalidOperationException($"two .NET processors are registered as '{attribute.Name}': {existing.FullName} and {type.FullName}");
                }

                builder[attribute.Name] = type;
            }
        }

        _processors = builder.ToImmutable();
    }

    /// <summary>Registered names.</summary>
    public IEnumerable<string> Names => _processors.Keys.Order(StringComparer.Ordinal);

    /// <summary>The processor type registered under <paramref name="name"/>, if any.</summary>
    public bool TryGet(string name, out Type? type) => _processors.TryGetValue(name, out type);

    /// <summary>The silo's loaded assemblies plus every DLL in <paramref name="pluginsPath"/> (if it exists).</summary>
    public static IReadOnlyList<Assembly> DiscoverAssemblies(string? pluginsPath)
    {
        var assemblies = AppDomain.CurrentDomain.GetAssemblies().Where(a => !a.IsDynamic).ToList();
        if (pluginsPath is null || !Directory.Exists(pluginsPath))
        {
            return assemblies;
        }

        var folder = Path.GetFullPath(pluginsPath);
        // Plugins may ship their own dependencies beside them.
        AssemblyLoadContext.Default.Resolving += (context, name) =>
        {
            var candidate = Path.Combine(folder, name.Name + ".dll");
            return File.Exists(candidate) ? context.LoadFromAssemblyPath(candidate) : null;
        };
        foreach (var dll in Directory.EnumerateFiles(folder, "*.dll").Order(StringComparer.Ordinal))
        {
            var name = AssemblyName.GetAssemblyName(dll);
            var loaded = assemblies.FirstOrDefault(a => AssemblyName.ReferenceMatchesDefinition(a.GetName(), name));
            assemblies.Add(loaded ?? AssemblyLoadContext.Default.LoadFromAssemblyPath(dll));
        }

        return assemblies;
    }

    private static IEnumerable<Type> LoadableTypes(Assembly assembly)
    {
        try
        {
            return assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException ex)
        {
            // A plugin referencing something absent still offers the types that did load.
            return ex.Types.OfType<Type>();
        }
    }
}
