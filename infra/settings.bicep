// The Invoker__… app settings, built in one place from the typed profiles and callers, exactly as the
// library binds them. Infra is the source of truth for app settings: siteConfig.appSettings replaces the
// whole list at each provision. InfraTests evaluates these functions (bicep build-params) for a profile
// with every field and runs the app's own configuration check on the result.
import { tlsProfile, keyVaultReference, tokenSource, callerCertificate, callerGrant } from 'types.bicep'

func source(prefix string, reference keyVaultReference, defaultVaultUri string) object[] => concat(
  [
    { name: '${prefix}__Source', value: 'KeyVault' }
    { name: '${prefix}__VaultUri', value: reference.?vaultUri ?? defaultVaultUri }
    { name: '${prefix}__Name', value: reference.name }
  ],
  empty(reference.?version ?? '') ? [] : [{ name: '${prefix}__Version', value: reference.?version }]
)

func list(prefix string, items string[]) object[] => map(range(0, length(items)), i => { name: '${prefix}__${i}', value: items[i] })

func token(prefix string, t tokenSource, vaultUri string) object[] => concat(
  [
    { name: '${prefix}__Endpoint', value: t.endpoint }
    { name: '${prefix}__ClientId', value: t.clientId }
    { name: '${prefix}__ClientAuthentication', value: t.clientAuthentication }
  ],
  list('${prefix}__Scopes', t.?scopes ?? []),
  empty(t.?audience ?? '') ? [] : [{ name: '${prefix}__Audience', value: t.?audience }],
  empty(t.?resource ?? '') ? [] : [{ name: '${prefix}__Resource', value: t.?resource }],
  t.?clientSecret == null ? [] : source('${prefix}__ClientSecret', t.clientSecret!, vaultUri)
)

func profile(p tlsProfile, vaultUri string) object[] => concat(
  list('Invoker__Profiles__${p.name}__Hosts', p.hosts),
  p.?clientCertificate != null
    ? source('Invoker__Profiles__${p.name}__ClientCertificate', p.clientCertificate!, vaultUri)
    : empty(p.?certificateName ?? '') ? [] : source('Invoker__Profiles__${p.name}__ClientCertificate', { name: p.certificateName! }, vaultUri),
  p.?trustedCa != null
    ? source('Invoker__Profiles__${p.name}__TrustedCa', p.trustedCa!, vaultUri)
    : empty(p.?trustedCaName ?? '') ? [] : source('Invoker__Profiles__${p.name}__TrustedCa', { name: p.trustedCaName! }, vaultUri),
  list('Invoker__Profiles__${p.name}__ServerCertificatePins', p.?serverCertificatePins ?? []),
  [
    { name: 'Invoker__Profiles__${p.name}__Timeout', value: string(p.?timeoutSeconds ?? 30) }
    { name: 'Invoker__Profiles__${p.name}__AllowPrivateNetwork', value: string(p.?allowPrivateNetwork ?? false) }
    { name: 'Invoker__Profiles__${p.name}__AllowLegacyServerCrypto', value: string(p.?allowLegacyServerCrypto ?? false) }
  ],
  p.?maxResponseBytes == null ? [] : [{ name: 'Invoker__Profiles__${p.name}__MaxResponseBytes', value: string(p.?maxResponseBytes) }],
  list('Invoker__Profiles__${p.name}__AllowedCallers', p.?allowedCallers ?? []),
  empty(p.?baseUrl ?? '') ? [] : [{ name: 'Invoker__Profiles__${p.name}__BaseUrl', value: p.?baseUrl }],
  list('Invoker__Profiles__${p.name}__ForwardCallerHeaders', p.?forwardCallerHeaders ?? []),
  p.?token == null ? [] : token('Invoker__Profiles__${p.name}__Token', p.token!, vaultUri)
)

@export()
@description('Every Invoker__Profiles__… app setting of the profiles.')
func profileSettings(profiles tlsProfile[], vaultUri string) object[] => flatten(map(profiles, p => profile(p, vaultUri)))

@export()
@description('The Invoker__Callers__… app settings. Function keys stay checked by the Functions host in every mode; in certificate modes the site forwards the caller\'s certificate (X-ARR-ClientCert) and the app validates it against the caller CA.')
func callerSettings(mode string, caName string, certificates callerCertificate[], grants callerGrant[], vaultUri string) object[] => concat(
  mode == 'KeyOnly' ? [] : concat(
    [
      { name: 'Invoker__Callers__Mode', value: mode }
      { name: 'Invoker__Callers__TrustForwardedCertificate', value: 'true' }
    ],
    source('Invoker__Callers__CertificateAuthority', { name: caName }, vaultUri),
    flatten(map(certificates, c => concat(
      empty(c.?thumbprint ?? '') ? [] : [{ name: 'Invoker__Callers__Certificates__${c.name}__Thumbprint', value: c.?thumbprint }],
      empty(c.?subject ?? '') ? [] : [{ name: 'Invoker__Callers__Certificates__${c.name}__Subject', value: c.?subject }]
    )))
  ),
  flatten(map(grants, g => list('Invoker__Callers__Grants__${g.caller}', g.profiles)))
)
