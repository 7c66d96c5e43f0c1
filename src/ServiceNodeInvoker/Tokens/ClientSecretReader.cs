using Azure;
using Azure.Identity;
using ServiceNodeInvoker.Certificates;
using ServiceNodeInvoker.Contract;
using ServiceNodeInvoker.Profiles;
using ServiceNodeInvoker.Primitives;

namespace ServiceNodeInvoker.Tokens;

/// <summary>
/// The client secret for <c>client_secret_basic</c>: the setting's value, or a Key Vault secret read afresh for every
/// token request (a few an hour), so a rotated secret is used from the next request on. Errors say what to fix and
/// never hold the value.
/// </summary>
internal sealed class ClientSecretReader(Func<KeyVaultClients> vaults)
{
    public async Task<string> ReadAsync(SecretSourceOptions source, CancellationToken token)
    {
        if (source.Source == SecretSourceKind.Setting)
        {
            return source.Value!;
        }
        var vault = source.VaultUri!;
        var where = $"Key Vault {vault.Host}, secret '{source.Name}'{(source.Version is null ? "" : $" version {source.Version}")}";
        try
        {
            var secret = (await vaults().For(vault).GetSecretAsync(source.Name, source.Version, token)).Value;
            return string.IsNullOrEmpty(secret.Value) ? throw Fail($"the client secret from {where} is empty") : secret.Value;
        }
        catch (RequestFailedException e)
        {
            throw Fail(e.Status switch
            {
                403 => $"the app's identity may not read the client secret from {where} (403 {LogText.Quote(e.ErrorCode, 64)}): grant it the 'Key Vault Secrets User' role on the vault",
                404 => $"{where} does not exist (404 {LogText.Quote(e.ErrorCode, 64)})",
                0 => $"{where} could not be reached ({e.InnerException?.Message.Split('\n')[0] ?? "no answer"})",
                _ => $"{where} could not be read ({e.Status} {LogText.Quote(e.ErrorCode, 64)})",
            }, e);
        }
        catch (AggregateException e) when (e.InnerExceptions.All(i => i is RequestFailedException))
        {
            var last = (RequestFailedException)e.InnerExceptions[^1];
            throw Fail($"{where} could not be read ({last.Status} {LogText.Quote(last.ErrorCode, 64)}; {e.InnerExceptions.Count} attempts)", e);
        }
        catch (CredentialUnavailableException e)
        {
            throw Fail($"no Azure credential is available to read {where} ({e.Message.Split('\n')[0].Trim()}); locally, sign in with 'az login'", e);
        }
        catch (AuthenticationFailedException e)
        {
            throw Fail($"no token for Key Vault could be obtained to read {where} ({e.Message.Split('\n')[0].Trim()}); check the managed identity", e);
        }
    }

    private static TokenRequestException Fail(string message, Exception? inner = null) =>
        new($"The client secret could not be read: {message}.", FailureCauses.TokenClientCredential, inner: inner);
}
