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
    query: 'customMetrics | where name == "invoker.tls.handshake_failures" | extend profile = tostring(customDimensions["invoker.profile"]), reason = tostring(customDimensions["invoker.tls.failure_reason"]) | summarize failures = sum(value) by profile, reason'
    column: 'failures'
    dimensions: ['profile', 'reason']
    aggregation: 'Total'
    threshold: 0
    // A window longer than the frequency: rows that reach the workspace late are still counted once.
    frequency: 'PT5M'
    window: 'PT15M'
  }
  {
    // The certificates' state as the latest run found them, not the last 15 minutes' rows: the watch runs once a day (and at
    // each start), so a 15-minute window fired once per run and resolved itself 15 minutes later, every day the certificate
    // stayed inside the window. Over two days of runs each certificate counts with its latest status, and only if the
    // profile's latest run still reported it (a replaced certificate drops out at the next run): the alert fires once when a
    // certificate enters warning, error, expired or failing, stays fired while it is there, and resolves after the run that
    // no longer finds it so (renewed, or escalated: error is a new alert of its own). docs/operations.md, Alerts.
    name: 'certificate-expiry'
    description: 'The expiry watch (daily and at start-up) found a certificate inside 30 days (warning), 7 days (error) or expired, or a source it could not read (failing): the alert names the profile, the role (client, chain, trusted-ca, caller-ca, client-secret), the subject and the status. It fires once per certificate and status and resolves when the latest run no longer reports it so. docs/operations.md, Expiry watch.'
    query: 'customMetrics | where name == "invoker.certificate.watch.checks" | extend profile = tostring(customDimensions["invoker.profile"]), role = tostring(customDimensions["invoker.certificate.role"]), subject = tostring(customDimensions["invoker.certificate.subject"]), thumbprint = tostring(customDimensions["invoker.certificate.thumbprint"]), status = tostring(customDimensions["invoker.certificate.status"]) | summarize arg_max(timestamp, status) by profile, role, subject, thumbprint | join kind=inner (customMetrics | where name == "invoker.certificate.watch.checks" | extend profile = tostring(customDimensions["invoker.profile"]) | summarize lastRun = max(timestamp) by profile) on profile | where timestamp > lastRun - 1h | where status in ("warning", "error", "expired", "failing") | summarize certificates = count() by profile, role, subject, status'
    column: 'certificates'
    dimensions: ['profile', 'role', 'subject', 'status']
    aggregation: 'Total'
    threshold: 0
    frequency: 'PT1H'
    window: 'P2D'
  }
  {
    // The watch itself: its summary (event 1012) ends every run. Hours since the last one, over two days: more than 26 (a
    // day and a margin for the 06:00 timer's start and the telemetry's delay) and it has stopped — the timer's storage, the
    // function disabled, the app not starting, or its telemetry lost — so no certificate is being checked. Until the app's
    // first run the hours count from its first telemetry (a new deployment is not missing anything yet); no telemetry at
    // all in two days counts as 48.
    name: 'expiry-watch-missing'
    description: 'The expiry watch has not finished a run (event 1012) for more than 26 hours: no certificate is being checked. Look for event 1013 (the run failed), the ExpiryWatch function disabled, AzureWebJobsStorage (the timer\'s lock), or an app that does not start. docs/operations.md, Expiry watch.'
    query: 'traces | summarize firstSeen = min(timestamp), lastRun = maxif(timestamp, tostring(customDimensions["EventId"]) == "1012") | extend since = iff(isnull(lastRun), firstSeen, lastRun) | extend hoursSinceRun = iff(isnull(since), 48.0, (now() - since) / 1h)'
    column: 'hoursSinceRun'
    dimensions: []
    aggregation: 'Maximum'
    threshold: 26
    frequency: 'PT1H'
    window: 'P2D'
  }
  {
    name: 'certificate-unavailable'
    description: 'Invocations got 503 certificate-unavailable: the alert names the profile; health shows which certificate and why.'
    query: 'customMetrics | where name == "invoker.invocations" | where tostring(customDimensions["invoker.outcome"]) == "certificate-unavailable" | extend profile = tostring(customDimensions["invoker.profile"]) | summarize failures = sum(value) by profile'
    column: 'failures'
    dimensions: ['profile']
    aggregation: 'Total'
    threshold: 0
    // A window longer than the frequency: rows that reach the workspace late are still counted once.
    frequency: 'PT5M'
    window: 'PT15M'
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
      evaluationFrequency: rule.frequency
      windowSize: rule.window
      // Stateful: an alert (per dimension combination) notifies once when it fires and once when it resolves, not at every
      // evaluation that still finds it.
      autoMitigate: true
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: rule.aggregation
            metricMeasureColumn: rule.column
            // Every value of each column ('*'): a new profile or reason needs no change here.
            dimensions: map(rule.dimensions, d => { name: d, operator: 'Include', values: ['*'] })
            operator: 'GreaterThan'
            threshold: rule.threshold
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      actions: { actionGroups: [actionGroup.id] }
    }
  }
]
