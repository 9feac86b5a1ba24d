using Tomlyn.Syntax;

namespace Orleans.CastIron.Config;

/// <summary>
/// A TOML document as a tree of tables and values that remembers where every key was written, so that schema
/// errors can name the line and column. Built from Tomlyn's syntax tree after it reported no syntax errors.
/// </summary>
/// <remarks>
/// Redefined keys are detected here, not by Tomlyn: its validator keeps key paths that share one buffer, so two
/// different keys with colliding string hashes look identical to it (a false duplicate, or a real one reported
/// against the wrong first definition). The rules are Tomlyn's (TOML 1.0), applied to a real tree.
/// </remarks>
internal sealed class TomlNode
{
    private readonly Dictionary<string, TomlNode> _children = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    // For arrays of tables: one hidden node per [[element]]; paths continue into the last one.
    private List<TomlNode>? _elements;

    private TomlNode(string path, ValueSyntax? value, TomlNodeKind kind, Definition? definition, bool isImplicit, bool fromDottedKeys)
    {
        Path = path;
        Value = value;
        Kind = kind;
        Defined = definition;
        IsImplicit = isImplicit;
        FromDottedKeys = fromDottedKeys;
        (Line, Column) = definition is null || isImplicit ? (0, 0) : Position(definition.Key);
    }

    /// <summary>Dotted path from the document root.</summary>
    public string Path { get; }

    /// <summary>The value, for a key/value node.</summary>
    public ValueSyntax? Value { get; }

    /// <summary>True for tables (headers, inline tables, and tables implied by dotted keys).</summary>
    public bool IsTable => Kind is TomlNodeKind.Table or TomlNodeKind.InlineTable;

    /// <summary>1-based line of the key (0 for an implied table).</summary>
    public int Line { get; private set; }

    /// <summary>1-based column of the key (0 for an implied table).</summary>
    public int Column { get; private set; }

    /// <summary>1-based line of the value, or of the key when there is no value.</summary>
    public int ValueLine => Value is null ? Line : Value.Span.Start.Line + 1;

    /// <summary>1-based column of the value, or of the key when there is no value.</summary>
    public int ValueColumn => Value is null ? Column : Value.Span.Start.Column + 1;

    /// <summary>Children in document order.</summary>
    public IEnumerable<(string Name, TomlNode Node)> Children => _order.Select(name => (name, _children[name]));

    private TomlNodeKind Kind { get; }

    private Definition? Defined { get; set; }

    private bool IsImplicit { get; set; }

    private bool FromDottedKeys { get; }

    public TomlNode? this[string name] => _children.GetValueOrDefault(name);

    /// <summary>Builds the tree; every redefined key is added to <paramref name="duplicates"/>.</summary>
    public static TomlNode Build(DocumentSyntax document, List<ConfigError> duplicates)
    {
        var builder = new Builder(duplicates);
        var root = new TomlNode("", null, TomlNodeKind.Table, null, isImplicit: false, fromDottedKeys: false) { Line = 1, Column = 1 };
        foreach (var keyValue in document.KeyValues)
        {
            builder.AddKeyValue(root, keyValue);
        }

        foreach (var table in document.Tables)
        {
            var path = KeyParts(table.Name);
            if (path.Count == 0)
            {
                continue;
            }

            var isArray = table is TableArraySyntax;
            var node = builder.Walk(root, path, table.Name!, fromDottedKeys: false);
            if (node is null)
            {
                continue;
            }

            var defined = builder.Define(node, path[^1], new Definition(table, table.Name!), isArray ? TomlNodeKind.TableArray : TomlNodeKind.Table, null, fromDottedKeys: false);
            if (defined is null)
            {
                // A redefined table: its keys are not read, so they cannot add follow-on errors.
                continue;
            }

            foreach (var keyValue in table.Items)
            {
                builder.AddKeyValue(defined, keyValue);
            }
        }

        return root;
    }

    /// <summary>Where paths continue: the node itself, or the last element of an array of tables.</summary>
    private TomlNode Container => _elements is { Count: > 0 } elements ? elements[^1] : this;

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    private static (int Line, int Column) Position(SyntaxNode node) => (node.Span.Start.Line + 1, node.Span.Start.Column + 1);

    private static List<string> KeyParts(KeySyntax? key)
    {
        var parts = new List<string>();
        if (key is null)
        {
            return parts;
        }

        if (KeyName(key.Key) is { } first)
        {
            parts.Add(first);
        }

        foreach (var dotted in key.DotKeys)
        {
            if (KeyName(dotted.Key) is { } part)
            {
                parts.Add(part);
            }
        }

        return parts;
    }

    private static string? KeyName(BareKeyOrStringValueSyntax? key) => key switch
    {
        BareKeySyntax bare => bare.Key?.Text,
        StringValueSyntax quoted => quoted.Value,
        _ => null,
    };

    /// <summary>A definition: the whole syntax (named in messages) and its key (the node's position).</summary>
    private sealed record Definition(SyntaxNode Node, SyntaxNode Key);

    private enum TomlNodeKind
    {
        Value,
        InlineTable,
        Table,
        TableArray,
    }

    /// <summary>Adds definitions one at a time, applying TOML's rules on what may be defined again.</summary>
    private sealed class Builder(List<ConfigError> duplicates)
    {
        public void AddKeyValue(TomlNode table, KeyValueSyntax keyValue)
        {
            var parts = KeyParts(keyValue.Key);
            if (parts.Count == 0)
            {
                return;
            }

            var parent = Walk(table, parts, keyValue.Key!, fromDottedKeys: true);
            if (parent is null)
            {
                return;
            }

            var kind = keyValue.Value is InlineTableSyntax ? TomlNodeKind.InlineTable : TomlNodeKind.Value;
            var value = kind == TomlNodeKind.InlineTable ? null : keyValue.Value;
            if (Define(parent, parts[^1], new Definition(keyValue, keyValue.Key!), kind, value, fromDottedKeys: true) is { } node && keyValue.Value is InlineTableSyntax inline)
            {
                foreach (var item in inline.Items)
                {
                    if (item.KeyValue is { } nested)
                    {
                        AddKeyValue(node, nested);
                    }
                }
            }
        }

        /// <summary>
        /// Follows (creating implicitly) every segment of <paramref name="parts"/> but the last; returns the table
        /// that holds the last one, or null when a segment cannot be extended (reported as a duplicate).
        /// </summary>
        public TomlNode? Walk(TomlNode start, List<string> parts, KeySyntax key, bool fromDottedKeys)
        {
            var node = start.Container;
            for (var i = 0; i < parts.Count - 1; i++)
            {
                var next = Define(node, parts[i], new Definition(key, key), TomlNodeKind.Table, null, fromDottedKeys, isImplicit: true);
                if (next is null)
                {
                    return null;
                }

                node = next.Container;
            }

            return node;
        }

        /// <summary>Defines <paramref name="name"/> in <paramref name="parent"/>; null (and an error) when it may not be.</summary>
        public TomlNode? Define(TomlNode parent, string name, Definition syntax, TomlNodeKind kind, ValueSyntax? value, bool fromDottedKeys, bool isImplicit = false)
        {
            if (!parent._children.TryGetValue(name, out var existing))
            {
                var created = new TomlNode(Join(parent.Path, name), value, kind, syntax, isImplicit, fromDottedKeys);
                parent._children[name] = created;
                parent._order.Add(name);
                if (kind == TomlNodeKind.TableArray)
                {
                    created._elements = [NewElement(created)];
                }

                return created;
            }

            if (!MayExtend(existing, kind, isImplicit, fromDottedKeys))
            {
                Report(existing, syntax);
                return null;
            }

            if (kind == TomlNodeKind.TableArray && !isImplicit)
            {
                existing._elements!.Add(NewElement(existing));
            }
            else if (existing.IsImplicit && !isImplicit)
            {
                // An implied table given its own header: it is now defined, and takes the header's position.
                existing.IsImplicit = false;
                existing.Defined = syntax;
                (existing.Line, existing.Column) = Position(syntax.Key);
            }

            return existing;
        }

        private static TomlNode NewElement(TomlNode array) =>
            new(array.Path, null, TomlNodeKind.Table, null, isImplicit: false, fromDottedKeys: false);

        /// <summary>Tomlyn's rule: what may be seen again at a path already defined.</summary>
        private static bool MayExtend(TomlNode existing, TomlNodeKind kind, bool isImplicit, bool fromDottedKeys)
        {
            var asTable = kind == TomlNodeKind.TableArray && isImplicit ? TomlNodeKind.Table : kind;
            var implicitMatches = asTable != TomlNodeKind.Table
                || (existing.IsImplicit && (!existing.FromDottedKeys || (fromDottedKeys && existing.FromDottedKeys)))
                || (isImplicit && !fromDottedKeys);
            var typesMatch = (existing.Kind == TomlNodeKind.TableArray && (asTable == TomlNodeKind.TableArray || (asTable == TomlNodeKind.Table && isImplicit)))
                || (existing.Kind == TomlNodeKind.Table && asTable == TomlNodeKind.Table);
            return implicitMatches && typesMatch;
        }

        private void Report(TomlNode existing, Definition syntax)
        {
            var (line, column) = Position(syntax.Node);
            var first = existing.Defined is { } definition
                ? $" at {definition.Node.Span.Start} with `{Printable(definition.Node.ToString())}`"
                : "";
            duplicates.Add(new ConfigError(ConfigErrorCode.DuplicateKey, existing.Path, line, column,
                $"The key `{existing.Path}` is already defined{first} and cannot be redefined"));
        }

        private static string Printable(string text)
        {
            var trimmed = text.TrimEnd('\r', '\n');
            var firstLine = trimmed.Split('\n')[0].TrimEnd('\r');
            return firstLine.Length > 200 ? firstLine[..200] + "…" : firstLine;
        }
    }
}
