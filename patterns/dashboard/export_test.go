package dashboard

import "strings"

// SetCache turns the dashboard cache on or off (TestDashboardCache builds
// every dashboard both ways).
func SetCache(on bool) { cacheOn = on }

// JSONText is jsonText, for TestJSONText.
var JSONText = jsonText

// PoisonCache changes every cached dashboard (TestDashboardCacheSabotaged).
func PoisonCache() {
	cache.Range(func(k, v any) bool {
		t := v.(template)
		text := append([]string(nil), t.text...)
		text[0] = strings.Replace(text[0], "{", "{\"poisoned\": true,", 1)
		cache.Store(k, template{text: text, slots: t.slots, size: t.size})
		return true
	})
}

// ClearCache empties the cache.
func ClearCache() {
	cache.Clear()
	cached.Store(0)
}
