using ServiceNodeInvoker.Primitives;
using ServiceNodeInvoker.Profiles;
using System.Security.Cryptography.X509Certificates;
using Azure;
using Azure.Identity;
using Azure.Security.KeyVault.Certificates;
using Azure.Security.KeyVault.Secrets;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// A Key Vault certificate. A cold load reads its secret alone: a certificate's secret carries the leaf, key and chain
/// (DownloadCertificate drops the chain), its <c>id</c> the version, <c>managed</c>/<c>kid</c> that a certificate backs it,
/// its attributes whether it is enabled and valid — one GET, the fewest a scale-out storm can cost. A refresh resolves the
/// certificate through the certificate API (current or pinned version, validity, enabled, renewal policy: no key material
/// moves) and reads the secret again only when that version changed: a steady-state refresh costs one certificate GET. A
/// name that is no certificate (a PEM secret of CA certificates) is read as a plain secret. Every read goes through the
/// vault's gate (<see cref="KeyVaultClients.GateOptions"/>), and no read is retried here: failures say whether they may heal
/// (<see cref="LoadFailureKind"/>) and the certificate cache retries while a caller waits.
/// </summary>
internal sealed class KeyVaultCertificateSource(SecretClient client, CertificateClient certificates, string name, string? version, CertificateRole role,
    DependencyGate? gate = null) : ICertificateSource
{
    private LoadedCertificates? _loaded;
    private bool _plainSecret;

    public const string Pkcs12ContentType = "application/x-pkcs12";
    public const string PemContentType = "application/x-pem-file";

    /// <summary>The vault view's renewal before the first refresh has read the certificate's policy.</summary>
    public const string RenewalNotRead = "not read yet: a cold load reads the secret alone; the first refresh reads the policy";

    public string Description => $"Key Vault {client.VaultUri.Host}, certificate '{name}'{(version is null ? "" : $" version {version}")}";

    public string Location => client.VaultUri.ToString();

    /// <param name="cancellationToken">Cancels only the wait for the vault's gate (the callers' patience ran out); a read once sent is never cut off.</param>
    public async Task<LoadedCertificates> LoadAsync(CancellationToken cancellationToken)
    {
        IDisposable? slot = null;
        try
        {
            if (gate is not null)
            {
                try
                {
                    slot = await gate.TryEnterAsync(cancellationToken);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    slot = null;
                }
                if (slot is null)
                {
                    var wait = gate.PauseLeft;
                    throw wait > TimeSpan.Zero
                        ? new CertificateLoadException($"Key Vault {client.VaultUri.Host} is throttling requests (429) and asked this instance to wait " +
                            "before its next read", null, wait, LoadFailureKind.Throttled)
                        : new CertificateLoadException($"Key Vault {client.VaultUri.Host} had not answered this instance's other reads " +
                            $"({gate.Options.MaxInFlight} at a time) by the waiting invocations' timeout", null, null, LoadFailureKind.Transient);
                }
            }
            var loaded = _loaded is null ? await ColdAsync() : await RefreshAsync();
            gate?.Answered();
            return loaded;
        }
        catch (RequestFailedException e)
        {
            var kind = KindOf(e.Status);
            if (kind == LoadFailureKind.Throttled)
            {
                gate?.Throttled(RetryAfter(e));
            }
            else
            {
                gate?.Answered();
            }
            throw new CertificateLoadException(Explain(e), e, RetryAfter(e), kind);
        }
        catch (AggregateException e) when (e.InnerExceptions.All(i => i is RequestFailedException))
        {
            // The SDK's retries ran out (options that turned them back on): every attempt failed, the last one says how.
            var last = (RequestFailedException)e.InnerExceptions[^1];
            throw new CertificateLoadException($"{Explain(last)}; {e.InnerExceptions.Count} attempts", e, RetryAfter(last), KindOf(last.Status));
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            // The SDK's network timeout (Retry.NetworkTimeout): no answer, which may heal.
            throw new CertificateLoadException(Unreachable(e), e, null, LoadFailureKind.Transient);
        }
        catch (CredentialUnavailableException e)
        {
            throw new CertificateLoadException($"no Azure credential is available ({FirstLine(e.Message)}); locally, sign in with 'az login'", e, null);
        }
        catch (AuthenticationFailedException e)
        {
            throw new CertificateLoadException(
                $"no token for Key Vault could be obtained ({FirstLine(e.Message)}); locally, sign in with 'az login'; " +
                "in Azure, check the managed identity and AZURE_CLIENT_ID", e, null);
        }
        finally
        {
            slot?.Dispose();
        }
    }

    /// <summary>Nothing loaded yet: the secret alone, one GET, when it is a certificate's (managed); else a plain secret.</summary>
    private async Task<LoadedCertificates> ColdAsync()
    {
        var secret = await ReadSecretAsync(version, CancellationToken.None);
        VaultView? view = null;
        if (secret.Properties.Managed)
        {
            var properties = secret.Properties;
            view = new VaultView(properties.Version, properties.Enabled, properties.NotBefore, properties.ExpiresOn,
                version is null ? RenewalNotRead : "pinned version: renewal does not apply");
            if (view.Problem(DateTimeOffset.UtcNow) is { } problem)
            {
                throw new CertificateLoadException($"the current {problem}");
            }
        }
        else
        {
            _plainSecret = true; // a PEM secret of CA certificates (or a certificate stored as a plain secret)
        }
        return _loaded = new LoadedCertificates(Read(secret), secret.Properties.Version) { Vault = view };
    }

    /// <summary>Loaded before: the certificate's view (one GET), and its secret only when the version changed.</summary>
    private async Task<LoadedCertificates> RefreshAsync()
    {
        var token = CancellationToken.None;
        VaultView? view = null;
        if (!_plainSecret)
        {
            try
            {
                view = await ViewAsync(token);
            }
            catch (RequestFailedException e) when (e.Status == 404 && e.ErrorCode == "CertificateNotFound")
            {
                _plainSecret = true; // a PEM secret of CA certificates (or a certificate stored as a plain secret)
            }
        }
        if (view is not null && _loaded is { } loaded && loaded.Version == view.Version)
        {
            return loaded with { Vault = view }; // same version: no key material moves
        }
        if (view?.Problem(DateTimeOffset.UtcNow) is { } problem)
        {
            // A new current version the vault itself says is unusable: not worth its key material.
            throw new CertificateLoadException($"the current {problem}");
        }
        var secret = await ReadSecretAsync(view?.Version ?? version, token);
        return _loaded = new LoadedCertificates(Read(secret), secret.Properties.Version) { Vault = view };
    }

    /// <summary>Which answers may heal by waiting: throttling (429), the vault failing (5xx, 408) or not answering (0).</summary>
    private static LoadFailureKind KindOf(int status) => status switch
    {
        429 => LoadFailureKind.Throttled,
        0 or 408 or 500 or 502 or 503 or 504 => LoadFailureKind.Transient,
        _ => LoadFailureKind.Definitive,
    };

    /// <summary>The vault's own view of the certificate (its metadata only), from the certificate API.</summary>
    private async Task<VaultView> ViewAsync(CancellationToken token)
    {
        try
        {
            if (version is not null)
            {
                var pinned = (await certificates.GetCertificateVersionAsync(name, version, token)).Value;
                return VaultView.From(pinned.Properties, "pinned version: renewal does not apply");
            }
            var current = (await certificates.GetCertificateAsync(name, token)).Value;
            return VaultView.From(current.Properties, VaultView.RenewalOf(current.Policy));
        }
        catch (RequestFailedException e) when (e.Status == 403)
        {
            throw new RequestFailedException(403, $"the app's identity may not read certificates in Key Vault {client.VaultUri.Host} (403 {Code(e)}): " +
                "grant it the 'Key Vault Certificate User' role on the vault", "CertificateForbidden", e);
        }
    }

    private async Task<KeyVaultSecret> ReadSecretAsync(string? secretVersion, CancellationToken token)
    {
        try
        {
            return (await client.GetSecretAsync(name, secretVersion, token)).Value;
        }
        catch (RequestFailedException e) when (e.Status == 403)
        {
            throw new RequestFailedException(403, $"the app's identity may not read secrets in Key Vault {client.VaultUri.Host} (403 {Code(e)}): " +
                "grant it the 'Key Vault Secrets User' role on the vault (RBAC mode), or check that the certificate is enabled", "SecretForbidden", e);
        }
    }

    private X509Certificate2Collection Read(KeyVaultSecret secret)
    {
        var contentType = secret.Properties.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        switch (contentType)
        {
            case Pkcs12ContentType:
                byte[] bytes;
                try
                {
                    bytes = Convert.FromBase64String(secret.Value);
                }
                catch (FormatException e)
                {
                    throw new CertificateLoadException($"the secret '{name}' says PKCS#12 but its value is not base64", e);
                }
                return role == CertificateRole.Client
                    ? CertificateReader.ReadPkcs12(bytes, password: null)
                    : CertificateReader.ReadCertificates(bytes, password: null);
            case PemContentType:
                return role == CertificateRole.Client
                    ? CertificateReader.ReadPem(secret.Value, secret.Value, password: null)
                    : CertificateReader.ReadCertificates(System.Text.Encoding.ASCII.GetBytes(secret.Value), password: null);
            default:
                throw new CertificateLoadException(
                    $"the secret '{name}' has content type '{secret.Properties.ContentType ?? "(none)"}', not {Pkcs12ContentType} or " +
                    $"{PemContentType}: import the certificate with 'az keyvault certificate import' rather than storing a plain secret");
        }
    }

    private string Explain(RequestFailedException e) => e.Status switch
    {
        401 => $"Key Vault {client.VaultUri.Host} refused the app's token (401): check the tenant and the identity",
        403 when e.ErrorCode is "CertificateForbidden" or "SecretForbidden" && e.InnerException is RequestFailedException => e.Message, // ours (below), its code quoted
        403 => $"the app's identity may not read secrets in Key Vault {client.VaultUri.Host} (403 {Code(e)}): grant it the " +
               "'Key Vault Secrets User' role on the vault (RBAC mode), or check that the certificate is enabled",
        404 => $"Key Vault {client.VaultUri.Host} has no certificate '{name}'{(version is null ? "" : $" version {version}")} (404 {Code(e)})",
        429 => $"Key Vault {client.VaultUri.Host} is throttling requests (429)",
        0 => Unreachable(e),
        >= 500 => $"Key Vault {client.VaultUri.Host} failed ({e.Status} {Code(e)})",
        _ => $"Key Vault {client.VaultUri.Host} answered {e.Status} {Code(e)}",
    };

    /// <summary>The vault's error code as we quote it: the vault's text, escaped and capped.</summary>
    private static string Code(RequestFailedException e) => LogText.Quote(e.ErrorCode, 64);

    /// <summary>No HTTP answer at all: which step failed (name, connect, TLS, timeout) and what to check for it.</summary>
    private string Unreachable(Exception e)
    {
        var host = client.VaultUri.Host;
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.HostNotFound or System.Net.Sockets.SocketError.NoData or System.Net.Sockets.SocketError.TryAgain }:
                    return $"Key Vault {host} could not be reached: its name does not resolve (DNS). Check the vault name in VaultUri; " +
                           "behind a private endpoint, check the privatelink.vaultcore.azure.net DNS zone is linked to the VNet";
                case System.Net.Sockets.SocketException socket:
                    return $"Key Vault {host} could not be reached: {SocketErrors.Describe(socket.SocketErrorCode)}. " +
                           "Check firewalls, the vault's network rules and, in a VNet, its private endpoint";
                case System.Security.Authentication.AuthenticationException tls:
                    return $"Key Vault {host} could not be reached: the TLS handshake failed ({FirstLine(tls.Message)}). " +
                           "A proxy or firewall that intercepts TLS would do this";
                case TaskCanceledException or TimeoutException:
                    return $"Key Vault {host} could not be reached: no answer within the network timeout. Check firewalls and the vault's network rules";
            }
        }
        return $"Key Vault {host} could not be reached ({FirstLine(e.InnerException?.Message ?? e.Message)})";
    }

    /// <summary>The vault's Retry-After (seconds or a date), or null.</summary>
    internal static TimeSpan? RetryAfter(RequestFailedException e)
    {
        var response = e.GetRawResponse();
        if (response is null || !response.Headers.TryGetValue("Retry-After", out var value))
        {
            return null;
        }
        if (int.TryParse(value, out var seconds))
        {
            return TimeSpan.FromSeconds(seconds);
        }
        return DateTimeOffset.TryParse(value, out var at) ? at - DateTimeOffset.UtcNow : null;
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim().TrimEnd('.');
}
