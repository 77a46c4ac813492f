package dashboard

// SetCache turns the dashboard cache on or off (TestDashboardCache builds
// every dashboard both ways).
func SetCache(on bool) { cacheOn = on }

// JSONText is jsonText, for TestJSONText.
var JSONText = jsonText
