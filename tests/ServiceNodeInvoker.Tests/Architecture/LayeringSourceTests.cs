using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ServiceNodeInvoker.Tests.Architecture;

/// <summary>
/// The layering rule (<see cref="LayeringTests"/>) read from the library's source, bound by the C# compiler, for what
/// compiling erases: a constant is copied into the code that uses it (a <c>const</c> of a higher layer leaves no
/// reference in the assembly, not even as an attribute's argument), and <c>nameof</c> leaves a string. And each blind spot
/// either scan closes — generic constraints, attribute arguments, constants — shown failing on a planted case. Not in
/// the fast tier: binding the whole library takes seconds.
/// </summary>
public sealed class LayeringSourceTests
{
    private static readonly string[] Layers = LayeringTests.Layers;

    [Fact]
    public void No_name_in_the_source_refers_to_a_layer_above_it()
    {
        var compilation = Compile(Directory.EnumerateFiles(Path.Combine(Tools.RepoRoot, "src", "ServiceNodeInvoker"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (f, File.ReadAllText(f))), LibraryReferences(), implicitUsings: true);
        // Every name must have been bound, or a reference could hide behind one the compiler did not resolve.
        var unbound = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && d.Id is "CS0103" or "CS0246" or "CS0234" or "CS0117")
            .Select(d => d.ToString()).ToList();
        Assert.True(unbound.Count == 0, "Names the compiler could not bind:\n" + string.Join("\n", unbound.Take(20)));
        var upward = UpwardNames(compilation);
        Assert.True(upward.Count == 0, "Names of a higher layer in the source:\n" + string.Join("\n", upward));
    }

    /// <summary>A planted library: Primitives naming Invocation in the ways the compiled library can hide.</summary>
    private const string Planted = """
        namespace ServiceNodeInvoker.Invocation
        {
            public class Step { public const string Name = "step"; }
            public enum Kind { Envelope }
        }
        namespace ServiceNodeInvoker.Primitives
        {
            public sealed class MarkerAttribute : System.Attribute
            {
                public MarkerAttribute(System.Type type) { }
                public MarkerAttribute(object value) { }
                public System.Type? Named { get; set; }
            }
            public class ConstrainedType<T> where T : ServiceNodeInvoker.Invocation.Step { }
            public static class ConstrainedMethod { public static void Use<T>() where T : ServiceNodeInvoker.Invocation.Step { } }
            [Marker(typeof(ServiceNodeInvoker.Invocation.Step))] public class TypeArgument { }
            [Marker(ServiceNodeInvoker.Invocation.Kind.Envelope)] public class EnumArgument { }
            [Marker(0, Named = typeof(ServiceNodeInvoker.Invocation.Step))] public class NamedArgument { }
            public class ParameterAttribute { public void Take([Marker(typeof(ServiceNodeInvoker.Invocation.Step))] int value) { } }
            public class Constant { public string Read() => ServiceNodeInvoker.Invocation.Step.Name; }
            public class NameOf { public string Read() => nameof(ServiceNodeInvoker.Invocation.Kind); }
            [Marker(ServiceNodeInvoker.Invocation.Step.Name)] public class ConstantArgument { }
        }
        """;

    private static readonly Lazy<Assembly> PlantedAssembly = new(() =>
    {
        var compilation = Compile([("planted.cs", Planted)], [MetadataReference.CreateFromFile(typeof(object).Assembly.Location)],
            Path.GetRandomFileName());
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
        return Assembly.Load(image.ToArray());
    });

    [Theory]
    [InlineData("ConstrainedType`1")] // a generic type's constraint
    [InlineData("ConstrainedMethod")] // a generic method's constraint
    [InlineData("TypeArgument")]      // typeof(...) as an attribute's argument
    [InlineData("EnumArgument")]      // an enum value as an attribute's argument
    [InlineData("NamedArgument")]     // an attribute's named argument
    [InlineData("ParameterAttribute")] // an attribute on a parameter
    public void The_assembly_scan_sees_a_planted_reference(string planted) =>
        Assert.Contains($"ServiceNodeInvoker.Primitives.{planted} (Primitives) uses ServiceNodeInvoker.Invocation.", string.Join("\n", LayeringTests.UpwardReferences(PlantedAssembly.Value)));

    [Theory]
    [InlineData("Constant")] // a const of a higher layer: copied into the caller, gone from the assembly
    [InlineData("NameOf")]   // nameof(...): a string in the assembly
    [InlineData("ConstantArgument")] // a const as an attribute's argument: a string in the attribute's blob
    public void What_compiling_erases_only_the_source_scan_sees(string planted)
    {
        Assert.DoesNotContain($"ServiceNodeInvoker.Primitives.{planted} (Primitives)", string.Join("\n", LayeringTests.UpwardReferences(PlantedAssembly.Value)));
        var source = Compile([("planted.cs", Planted)], [MetadataReference.CreateFromFile(typeof(object).Assembly.Location)]);
        Assert.Contains($"ServiceNodeInvoker.Primitives.{planted} (Primitives) names ServiceNodeInvoker.Invocation.", string.Join("\n", UpwardNames(source)));
    }

    /// <summary>The implicit usings of Microsoft.NET.Sdk (ImplicitUsings=enable in Directory.Build.props).</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private static CSharpCompilation Compile(IEnumerable<(string Path, string Text)> files, IEnumerable<MetadataReference> references, string name = "ServiceNodeInvoker",
        bool implicitUsings = false)
    {
        var options = new CSharpParseOptions(LanguageVersion.Preview);
        var trees = files.Select(f => CSharpSyntaxTree.ParseText(f.Text, options, f.Path));
        if (implicitUsings)
        {
            trees = trees.Append(CSharpSyntaxTree.ParseText(ImplicitUsings, options, "ImplicitUsings.g.cs"));
        }
        return CSharpCompilation.Create(name, trees, references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true));
    }

    /// <summary>What the library is compiled against: the framework and every package assembly beside the tests (the library's own left out).</summary>
    private static IEnumerable<MetadataReference> LibraryReferences()
    {
        var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var path in ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
                     .Concat(Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll")))
        {
            byName[Path.GetFileName(path)] = path; // the folder's copy wins over the framework's
        }
        byName.Remove(Path.GetFileName(LayeringTests.Library.Location));
        return byName.Values.Where(IsManaged).Select(p => MetadataReference.CreateFromFile(p));
    }

    private static bool IsManaged(string path)
    {
        try
        {
            AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }

    /// <summary>Every name in the source the compiler binds to a type or a member of a type, by the type that declares it.</summary>
    private static SortedSet<string> UpwardNames(CSharpCompilation compilation)
    {
        var upward = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var tree in compilation.SyntaxTrees)
        {
            var model = compilation.GetSemanticModel(tree);
            foreach (var name in tree.GetRoot().DescendantNodes().OfType<SimpleNameSyntax>())
            {
                // A namespace's name binds to no type; a type's name or member to the type that declares it.
                var symbol = model.GetSymbolInfo(name).Symbol ?? model.GetSymbolInfo(name).CandidateSymbols.FirstOrDefault();
                var target = symbol as INamedTypeSymbol ?? symbol?.ContainingType;
                // The type whose declaration holds the name, its attributes and constraints included.
                var declaration = name.Ancestors().FirstOrDefault(a => a is BaseTypeDeclarationSyntax or DelegateDeclarationSyntax);
                var source = declaration is null ? null : model.GetDeclaredSymbol(declaration) as INamedTypeSymbol;
                if (target is null || source is null || SourceLayerOf(target) is not { } to || SourceLayerOf(source) is not { } layer)
                {
                    continue;
                }
                if (Array.IndexOf(Layers, to) > Array.IndexOf(Layers, layer))
                {
                    upward.Add($"{OutermostName(source)} ({layer}) names {OutermostName(target)} ({to}): {tree.FilePath}:{name.GetLocation().GetLineSpan().StartLinePosition.Line + 1}");
                }
            }
        }
        return upward;
    }

    private static string OutermostName(INamedTypeSymbol type)
    {
        while (type.ContainingType is { } outer)
        {
            type = outer;
        }
        return type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat).Replace("global::", "", StringComparison.Ordinal);
    }

    private static string? SourceLayerOf(INamedTypeSymbol type)
    {
        if (type.ContainingAssembly is not ISourceAssemblySymbol)
        {
            return null; // the framework's, a package's
        }
        var ns = type.ContainingNamespace.ToDisplayString();
        return ns == "ServiceNodeInvoker" ? "(root)"
            : ns.StartsWith("ServiceNodeInvoker.", StringComparison.Ordinal) ? ns["ServiceNodeInvoker.".Length..].Split('.')[0] : null;
    }
}
