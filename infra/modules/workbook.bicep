// The operators' dashboard: an Azure Monitor workbook over Application Insights, per profile (docs/operations.md, The
// dashboard). Its queries are checked against the names the app emits (WorkbookTelemetryTests).
param location string
param tags object
param resourceToken string
param appInsightsId string

resource dashboard 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name must be a GUID; the same one on every deployment of this environment, so azd up updates it.
  name: guid(resourceGroup().id, 'service-node-invoker-dashboard', resourceToken)
  location: location
  tags: union(tags, { 'hidden-title': 'Service Node Invoker' })
  kind: 'shared'
  properties: {
    displayName: 'Service Node Invoker'
    category: 'workbook'
    sourceId: toLower(appInsightsId)
    serializedData: loadTextContent('../workbook/dashboard.workbook.json')
    version: 'Notebook/1.0'
  }
}

output workbookId string = dashboard.id
// The portal's address of the workbook (azd prints it as DASHBOARD_URL).
output url string = '${environment().portal}/#@${tenant().tenantId}/resource${dashboard.id}/workbook'
