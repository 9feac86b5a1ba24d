using Microsoft.Extensions.Options;

namespace Orleans.CastIron.Options;

/// <summary>
/// Turns an options class's own list of problems into a start-up failure that names every setting at fault, so a
/// misconfigured silo stops before it joins the cluster with a message an operator can act on.
/// </summary>
public sealed class DescribedOptionsValidator<T>(Func<T, IEnumerable<string>> problems) : IValidateOptions<T>
    where T : class
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var found = problems(options).ToList();
        return found.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(found);
    }
}
