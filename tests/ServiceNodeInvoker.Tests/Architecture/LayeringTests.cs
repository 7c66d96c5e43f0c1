using System.Reflection;
using System.Reflection.Emit;

namespace ServiceNodeInvoker.Tests.Architecture;

/// <summary>
/// Folders are layers (docs/architecture.md): a namespace may use its own layer and those below it, never one
/// above. Read from the compiled library — signatures, generic constraints, attributes with their arguments, and every
/// type, method and field the IL of each method body names (lambdas and async state machines included) — so no
/// reference hides in a using. What compiling erases (constants, <c>nameof</c>) is read from the source by
/// <see cref="LayeringSourceTests"/>, which also shows each blind spot of this scan failing on a planted case.
/// </summary>
[Trait("Tier", "Fast")]
public sealed class LayeringTests
{
    /// <summary>Bottom to top. A new folder must be placed here before it can be used.</summary>
    public static readonly string[] Layers =
    [
        "Primitives", "Settings", "Contract", "Telemetry", "Profiles", "Certificates", "Callers", "Transport", "Tokens",
        "Invocation", "Probe", "Configuration", "Endpoints", "(root)",
    ];

    internal static readonly Assembly Library = typeof(ServiceCollectionExtensions).Assembly;

    [Fact]
    public void No_namespace_uses_a_layer_above_it()
    {
        var upward = UpwardReferences(Library);
        Assert.True(upward.Count == 0, "References to a higher layer:\n" + string.Join("\n", upward));
    }

    /// <summary>Each reference of a type in <paramref name="assembly"/> to a type of a higher layer in it.</summary>
    internal static SortedSet<string> UpwardReferences(Assembly assembly)
    {
        var upward = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in assembly.GetTypes())
        {
            if (LayerOf(type, assembly) is not { } from)
            {
                continue;
            }
            foreach (var used in References(type))
            {
                if (LayerOf(used, assembly) is { } to && Array.IndexOf(Layers, to) > Array.IndexOf(Layers, from))
                {
                    upward.Add($"{Outermost(type).FullName} ({from}) uses {Outermost(used).FullName} ({to})");
                }
            }
        }
        return upward;
    }

    [Fact]
    public void Every_namespace_is_a_known_layer()
    {
        var unknown = Library.GetTypes().Select(t => Outermost(t).Namespace).Where(n => n?.StartsWith("ServiceNodeInvoker", StringComparison.Ordinal) == true)
            .Select(n => n == "ServiceNodeInvoker" ? "(root)" : n!["ServiceNodeInvoker.".Length..])
            .Where(n => !Layers.Contains(n)).Distinct().ToList();
        Assert.True(unknown.Count == 0, "Namespaces that are no layer (place them in Layers and docs/architecture.md): " + string.Join(", ", unknown));
    }

    /// <summary>The checker itself finds a reference that only a method body makes (a test that cannot fail is a defect).</summary>
    [Fact]
    public void The_scan_sees_references_made_only_inside_method_bodies()
    {
        var pipeline = Library.GetType("ServiceNodeInvoker.Invocation.InvocationPipeline", throwOnError: true)!;
        var used = References(pipeline).Select(Outermost).Select(t => t.FullName).ToHashSet();
        // HostKey.FromUri is called inside SendAsync's state machine only; no field or signature names HostKey.
        Assert.Contains("ServiceNodeInvoker.Profiles.HostKey", used);
        Assert.Contains("ServiceNodeInvoker.Transport.FailureClassifier", used);
    }

    private static Type Outermost(Type type)
    {
        while (type.DeclaringType is { } outer)
        {
            type = outer;
        }
        return type;
    }

    private static string? LayerOf(Type type, Assembly assembly)
    {
        if (type.Assembly != assembly)
        {
            return null;
        }
        var ns = Outermost(type).Namespace;
        return ns switch
        {
            "ServiceNodeInvoker" => "(root)",
            _ when ns?.StartsWith("ServiceNodeInvoker.", StringComparison.Ordinal) == true => ns["ServiceNodeInvoker.".Length..].Split('.')[0],
            _ => null, // compiler-generated helpers outside our namespaces
        };
    }

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static IEnumerable<Type> References(Type type)
    {
        var found = new HashSet<Type>();
        void Add(Type? t)
        {
            if (t is null || !found.Add(t))
            {
                return;
            }
            if (t.IsGenericParameter)
            {
                foreach (var constraint in t.GetGenericParameterConstraints())
                {
                    Add(constraint); // where T : X
                }
                return;
            }
            if (t.HasElementType)
            {
                Add(t.GetElementType());
            }
            if (t.IsGenericType)
            {
                foreach (var argument in t.GetGenericArguments())
                {
                    Add(argument);
                }
                if (!t.IsGenericTypeDefinition)
                {
                    Add(t.GetGenericTypeDefinition());
                }
            }
        }
        void AddArgument(CustomAttributeTypedArgument argument)
        {
            Add(argument.ArgumentType); // an enum value's type
            switch (argument.Value)
            {
                case Type named:
                    Add(named); // typeof(X)
                    break;
                case IEnumerable<CustomAttributeTypedArgument> elements:
                    foreach (var element in elements)
                    {
                        AddArgument(element);
                    }
                    break;
            }
        }
        void AddAttributes(IEnumerable<CustomAttributeData> attributes)
        {
            foreach (var attribute in attributes)
            {
                Add(attribute.AttributeType);
                foreach (var argument in attribute.ConstructorArguments.Concat(attribute.NamedArguments.Select(n => n.TypedValue)))
                {
                    AddArgument(argument);
                }
            }
        }
        // Nested types (lambdas' closures, async state machines) are scanned as part of their outermost type.
        var all = new List<Type> { type };
        for (var i = 0; i < all.Count; i++)
        {
            all.AddRange(all[i].GetNestedTypes(All));
        }
        foreach (var t in all)
        {
            foreach (var parameter in t.IsGenericTypeDefinition ? t.GetGenericArguments() : [])
            {
                Add(parameter);
            }
            Add(t.BaseType);
            foreach (var i in t.GetInterfaces())
            {
                Add(i);
            }
            AddAttributes(t.GetCustomAttributesData());
            foreach (var field in t.GetFields(All))
            {
                Add(field.FieldType);
                AddAttributes(field.GetCustomAttributesData());
            }
            foreach (var property in t.GetProperties(All))
            {
                Add(property.PropertyType);
                AddAttributes(property.GetCustomAttributesData());
            }
            foreach (var method in t.GetMethods(All).Cast<MethodBase>().Concat(t.GetConstructors(All)))
            {
                if (method is MethodInfo info)
                {
                    Add(info.ReturnType);
                    AddAttributes(info.ReturnParameter.GetCustomAttributesData());
                }
                foreach (var parameter in method.IsGenericMethodDefinition ? method.GetGenericArguments() : [])
                {
                    Add(parameter);
                }
                foreach (var parameter in method.GetParameters())
                {
                    Add(parameter.ParameterType);
                    AddAttributes(parameter.GetCustomAttributesData());
                }
                AddAttributes(method.GetCustomAttributesData());
                foreach (var used in BodyReferences(method))
                {
                    Add(used);
                }
            }
        }
        return found.Where(t => !t.IsGenericParameter);
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>The types the IL of a method names: in type, method and field tokens.</summary>
    private static IEnumerable<Type> BodyReferences(MethodBase method)
    {
        if (method.GetMethodBody()?.GetILAsByteArray() is not { } il)
        {
            yield break;
        }
        var typeArguments = method.DeclaringType is { IsGenericType: true } declaring ? declaring.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var position = 0;
        while (position < il.Length)
        {
            short value = il[position++];
            if (value == 0xFE)
            {
                value = unchecked((short)(0xFE00 | il[position++]));
            }
            var opCode = OpCodesByValue[value];
            switch (opCode.OperandType)
            {
                case OperandType.InlineType:
                case OperandType.InlineMethod:
                case OperandType.InlineField:
                case OperandType.InlineTok:
                    var token = BitConverter.ToInt32(il, position);
                    position += 4;
                    MemberInfo? member = null;
                    try
                    {
                        member = method.Module.ResolveMember(token, typeArguments, methodArguments);
                    }
                    catch (ArgumentException)
                    {
                    }
                    switch (member)
                    {
                        case Type t:
                            yield return t;
                            break;
                        case MethodBase m:
                            yield return m.DeclaringType!;
                            if (m is MethodInfo { IsGenericMethod: true } generic)
                            {
                                foreach (var argument in generic.GetGenericArguments())
                                {
                                    yield return argument;
                                }
                            }
                            break;
                        case FieldInfo f:
                            yield return f.DeclaringType!;
                            yield return f.FieldType;
                            break;
                    }
                    break;
                case OperandType.InlineSwitch:
                    position += 4 + 4 * BitConverter.ToInt32(il, position);
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    position += 1;
                    break;
                case OperandType.InlineVar:
                    position += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    position += 8;
                    break;
                default:
                    position += 4; // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR
                    break;
            }
        }
    }
}
