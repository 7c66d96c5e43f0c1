// Alerts that work while the app is scaled to zero: certificate expiry from the app's own expiry watch (a timer that wakes an
// instance daily) and, as a second path that needs no instance at all, from Key Vault itself (Event Grid → Azure Monitor
// alert, only for versions created after the subscription); invocation failures from the telemetry the app already sends.
param location string
param tags object
param resourceToken string
@description('Where alert emails go.')
param alertEmail string
param keyVaultName string
param appInsightsId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-invoker-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'invoker'
    enabled: true
    emailReceivers: [
      { name: 'operators', emailAddress: alertEmail, useCommonAlertSchema: true }
    ]
  }
}

// Key Vault raises CertificateNearExpiry (30 days before, a fixed lead) and CertificateExpired itself,
// whether or not any instance of the app runs: the days-to-expiry metric exists only while one does.
resource vaultEvents 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: 'evgt-${keyVaultName}'
  location: location
  tags: tags
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

resource expiryAlert 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: vaultEvents
  name: 'certificate-expiry'
  properties: {
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    filter: {
      includedEventTypes: [
        'Microsoft.KeyVault.CertificateNearExpiry'
        'Microsoft.KeyVault.CertificateExpired'
        // CA roots kept as PEM secrets with an expiry date set
        'Microsoft.KeyVault.SecretNearExpiry'
        'Microsoft.KeyVault.SecretExpired'
      ]
    }
    destination: {
      endpointType: 'MonitorAlert'
      properties: {
        severity: 'Sev1'
        description: 'A client or CA certificate in the invoker\'s Key Vault is near expiry or has expired: import a new version (docs/deploy.md, rotation).'
        actionGroups: [actionGroup.id]
      }
    }
  }
}

// The app's own telemetry: backends refusing or presenting certificates we reject, and profiles whose
// certificate cannot be loaded (503 certificate-unavailable). Each query's result columns named in `dimensions` split
// the alert: one alert per profile (and failure reason), and the notification names them.
var failureQueries = [
  {
    name: 'handshake-failures'
    description: 'TLS handshakes with backends failed (server certificate rejected, our client certificate refused, or protocol): the alert names the profile and the reason; run the probe.'
    query: 'customMetrics | where name == "invoker.tls.handshake_failures" | extend profile = tostring(customDimensions["invoker.profile"]), reason = tostring(customDimensions["invoker.tls.failure_reason"]) | summarize failures = sum(valueSum) by profile, reason'
    column: 'failures'
    dimensions: ['profile', 'reason']
  }
  {
    name: 'certificate-expiry'
    description: 'The expiry watch (daily and at start-up) found a certificate inside 30 days (warning), 7 days (error) or expired, or a source it could not read (failing): the alert names the profile, the role (client, chain, trusted-ca, caller-ca, client-secret), the subject and the status. docs/operations.md, Expiry watch.'
    query: 'customMetrics | where name == "invoker.certificate.watch.checks" | extend profile = tostring(customDimensions["invoker.profile"]), role = tostring(customDimensions["invoker.certificate.role"]), subject = tostring(customDimensions["invoker.certificate.subject"]), status = tostring(customDimensions["invoker.certificate.status"]) | where status in ("warning", "error", "expired", "failing") | summarize certificates = sum(valueSum) by profile, role, subject, status'
    column: 'certificates'
    dimensions: ['profile', 'role', 'subject', 'status']
  }
  {
    name: 'certificate-unavailable'
    description: 'Invocations got 503 certificate-unavailable: the alert names the profile; health shows which certificate and why.'
    query: 'customMetrics | where name == "invoker.invocations" | where tostring(customDimensions["invoker.outcome"]) == "certificate-unavailable" | extend profile = tostring(customDimensions["invoker.profile"]) | summarize failures = sum(valueSum) by profile'
    column: 'failures'
    dimensions: ['profile']
  }
]

resource failureAlerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in failureQueries: {
    name: 'alert-${rule.name}-${resourceToken}'
    location: location
    tags: tags
    properties: {
      displayName: 'Invoker: ${rule.name}'
      description: rule.description
      severity: 2
      enabled: true
      scopes: [appInsightsId]
      // A window longer than the frequency: rows that reach the workspace late are still counted once.
      evaluationFrequency: 'PT5M'
      windowSize: 'PT15M'
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Total'
            metricMeasureColumn: rule.column
            // Every value of each column ('*'): a new profile or reason needs no change here.
            dimensions: map(rule.dimensions, d => { name: d, operator: 'Include', values: ['*'] })
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      actions: { actionGroups: [actionGroup.id] }
    }
  }
]
