using System.Reflection;
using System.Runtime.Loader;
using Orleans.CastIron.Processing;

namespace Orleans.CastIron.Processing.Dotnet;

/// <summary>
/// The handlers this silo can run, by name: every non-abstract <typeparamref name="TProcessor"/> naming itself with
/// an attribute (<see cref="FileProcessorAttribute"/> for file processors, <see cref="TextPayloadProcessorAttribute"/>
/// for streaming payload handlers), in the loaded assemblies and in the assemblies of the plugins folder (users drop
/// their DLLs there; the equivalent of the seed's Worker_Dockerfile). A name used twice is an error at start.
/// </summary>
public sealed class ProcessorCatalog<TProcessor>
    where TProcessor : class
{
    private readonly ImmutableDictionary<string, Type> _processors;
    private readonly ImmutableHashSet<string> _pythonStandIns;

    public ProcessorCatalog(IEnumerable<Assembly> assemblies)
    {
        var builder = ImmutableDictionary.CreateBuilder<string, Type>(StringComparer.Ordinal);
        var standIns = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);
        foreach (var type in assemblies.Distinct().SelectMany(LoadableTypes))
        {
            if (type.IsAbstract || !typeof(TProcessor).IsAssignableFrom(type))
            {
                continue;
            }

            var names = type.GetCustomAttributes<FileProcessorAttribute>().Select(a => (a.Name, a.PythonStandIn))
                .Concat(type.GetCustomAttributes<TextPayloadProcessorAttribute>().Select(a => (a.Name, a.PythonStandIn)));
            foreach (var (name, standIn) in names)
            {
                if (standIn)
                {
                    standIns.Add(name);
                }

                if (builder.TryGetValue(name, out var existing) && existing != type)
                {
                    throw new InvalidOperationException($"two {typeof(TProcessor).Name} types are registered as '{name}': {existing.FullName} and {type.FullName}");
                }

                builder[name] = type;
            }
        }

        _processors = builder.ToImmutable();
        _pythonStandIns = standIns.ToImmutable();
    }

    /// <summary>True when a handler is registered as <paramref name="name"/>.</summary>
    public bool Contains(string name) => _processors.ContainsKey(name);

    /// <summary>True when the handler registered as <paramref name="name"/> only stands in for Python code of that name.</summary>
    public bool IsPythonStandIn(string name) => _pythonStandIns.Contains(name);

    /// <summary>Registered names.</summary>
    public IEnumerable<string> Names => _processors.Keys.Order(StringComparer.Ordinal);

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

    /// <summary>A new instance of the handler registered as <paramref name="name"/>, built from the silo's services.</summary>
    public TProcessor? Create(IServiceProvider services, string name) =>
        _processors.TryGetValue(name, out var type) ? (TProcessor)Microsoft.Extensions.DependencyInjection.ActivatorUtilities.CreateInstance(services, type) : null;
}

/// <summary>The assemblies searched for processors, found once per silo.</summary>
public sealed record ProcessorAssemblySet(IReadOnlyList<Assembly> Assemblies);

/// <summary>Finds the assemblies that may hold processors.</summary>
public static class ProcessorAssemblies
{
    /// <summary>The silo's loaded assemblies plus every DLL in <paramref name="pluginsPath"/> (if it exists).</summary>
    public static IReadOnlyList<Assembly> Discover(string? pluginsPath)
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
}
