package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	kjson "sigs.k8s.io/json"
)

// StrictJSON decodes JSON the way the Kubernetes API server does: field
// names are case-sensitive, and unknown or duplicate fields are errors. The
// error names the field the way users write it.
func StrictJSON(b []byte, v any) error {
	strict, err := kjson.UnmarshalStrict(b, v, kjson.DisallowUnknownFields, kjson.DisallowDuplicateFields)
	if err != nil {
		return CleanJSONError(err)
	}
	if len(strict) > 0 {
		return CleanJSONError(strict[0])
	}
	return nil
}

// CleanJSONError turns encoding/json's messages into ones that name the
// field and the expected shape in the user's words.
func CleanJSONError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	if strings.HasPrefix(msg, "unknown field ") {
		return fmt.Errorf("%s", msg)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			return fmt.Errorf("expected %s, got %s", te.Type, te.Value)
		}
		if num, ok := strings.CutPrefix(te.Value, "number "); ok && typeName(te.Type.String()) == "a number" {
			// A number the field's type cannot hold (1e23, a fraction).
			return NumberOutOfRange(field, num)
		}
		return fmt.Errorf("%s: expected %s, got %s", field, typeName(te.Type.String()), te.Value)
	}
	return fmt.Errorf("%s", msg)
}

func typeName(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	}
	if i := strings.LastIndex(t, "."); i >= 0 {
		return "a mapping (" + t[i+1:] + ")"
	}
	return t
}

// NumberOutOfRange is the error for a number an integer field cannot hold
// (too large, or with a fraction): a port's (the field's last name ends in
// "port") says the range, as Port does.
func NumberOutOfRange(field, num string) error {
	last := field[strings.LastIndexAny(field, ".]")+1:]
	if strings.HasSuffix(strings.ToLower(last), "port") {
		return fail(field, "%s: not a port (1 to 65535)", num)
	}
	return fail(field, "%s: expected a whole number within range", num)
}
