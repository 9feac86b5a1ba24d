using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Grains.Services;
using Orleans.CastIron.Options;
using Orleans.CastIron.Processing;
using Orleans.CastIron.Processing.Dotnet;
using Orleans.CastIron.Processing.Python;
using Orleans.CastIron.Processing.Shell;
using Orleans.Runtime;

namespace Orleans.Hosting;

/// <summary>Registers the Cast Iron workflow on a silo.</summary>
public static class CastIronSiloBuilderExtensions
{
    /// <summary>
    /// Adds the workflow: grains' services, processor execution, the embedded job-event feed (unless another
    /// <c>IJobEventSink</c> is registered first) and intake. The object store, event source, status store and the
    /// grain storage named <see cref="CastIronNames.GrainStorage"/> come from an adapter (e.g. <c>AddCastIronLocalFolder</c>).
    /// </summary>
    /// <param name="configuration">The <c>CastIron</c> section; <c>Processing</c> and <c>Python</c> are read from its children.</param>
    public static ISiloBuilder AddCastIron(this ISiloBuilder builder, IConfiguration? configuration = null, Action<CastIronOptions>? configure = null, Action<ProcessingOptions>? configureProcessing = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var castIron = services.AddOptions<CastIronOptions>();
        var processing = services.AddOptions<ProcessingOptions>();
        var python = services.AddOptions<PythonOptions>();
        if (configuration is not null)
        {
            castIron.Bind(configuration);
            processing.Bind(configuration.GetSection("Processing"));
            python.Bind(configuration.GetSection("Python"));
        }

        if (configure is not null)
        {
            castIron.Configure(configure);
        }

        if (configureProcessing is not null)
        {
            processing.Configure(configureProcessing);
        }

        castIron.ValidateOnStart();
        processing.ValidateOnStart();
        python.ValidateOnStart();
        services.AddSingleton<IValidateOptions<PythonOptions>>(new DescribedOptionsValidator<PythonOptions>(o => o.Validate()));
        services.AddSingleton<IValidateOptions<CastIronOptions>>(new DescribedOptionsValidator<CastIronOptions>(o => o.Validate()));
        services.AddSingleton<IValidateOptions<ProcessingOptions>>(new DescribedOptionsValidator<ProcessingOptions>(o => o.Validate()));

        services.TryAddSingleton(TimeProvider.System);
        // Plugins are loaded once; both catalogs look through the same assemblies.
        services.TryAddSingleton(sp => new ProcessorAssemblySet(ProcessorAssemblies.Discover(sp.GetRequiredService<IOptions<ProcessingOptions>>().Value.PluginsPath)));
        services.TryAddSingleton(sp => new ProcessorCatalog<IFileProcessor>(sp.GetRequiredService<ProcessorAssemblySet>().Assemblies));
        services.TryAddSingleton(sp => new ProcessorCatalog<ITextPayloadProcessor>(sp.GetRequiredService<ProcessorAssemblySet>().Assemblies));
        services.TryAddSingleton<ShellRunner>();
        services.TryAddSingleton<PythonWorkerPool>();
        services.TryAddSingleton<PythonHost>();
        services.TryAddSingleton<ProcessorExecutor>();
        services.TryAddSingleton<GrainJobEventSink>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<GrainJobEventSink>());
        services.TryAddSingleton<IJobEventSink>(sp => sp.GetRequiredService<GrainJobEventSink>());
        services.TryAddSingleton<ConfigSnapshotCache>();
        services.TryAddSingleton<JobTimerPump>();
        services.TryAddSingleton<FileCommands>();
        services.TryAddSingleton<PayloadDispatcher>();
        services.TryAddSingleton<ClusterStatusReader>();
        services.TryAddSingleton<ClusterConfigSlots>();
        services.TryAddSingleton<JobRunner>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<JobRunner>());
        services.TryAddSingleton<IntakeService>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<IntakeService>());
        return builder;
    }
}
