package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Load reads dir/hoist.yml, validates it and applies defaults. On invalid
// input the error is an Errors holding every problem in the file.
func Load(dir string) (*Config, error) {
	name := filepath.Join(dir, FileName)
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no %s in %s: run \"hoist init\" to write one: %w", FileName, dir, err)
	}
	if err != nil {
		return nil, err
	}
	return parse(name, dir, data)
}

// Parse is Load on bytes; filename is used in messages. The project
// directory is unknown, so nothing is checked on disk and requirements gets
// no default.
func Parse(filename string, data []byte) (*Config, error) {
	return parse(filename, "", data)
}

func parse(filename, dir string, data []byte) (*Config, error) {
	d := &decoder{file: filename, fields: map[string]*field{}}
	c := &Config{Dir: dir}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, d.syntaxError(err)
	}
	var body ast.Node
	if len(f.Docs) > 0 {
		body = f.Docs[0].Body
	}
	if body == nil {
		d.errorf(nil, "", "the file is empty: run \"hoist init\" to write a commented one")
		return nil, d.errs
	}
	if len(f.Docs) > 1 {
		e := Error{File: filename, Line: 1, Col: 1, Msg: FileName + " holds one YAML document: remove the second one"}
		if tk := f.Docs[1].Start; tk != nil && tk.Position != nil { // the "---"
			e.Line, e.Col = tk.Position.Line, tk.Position.Column
		}
		d.errs = append(d.errs, e)
	}
	d.anchors = anchors(body)
	d.decode("", nil, body, reflect.ValueOf(c).Elem())
	if !d.fields[""].bad {
		d.check(c)
	}
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, d.errs
	}
	return c, nil
}

func (d *decoder) syntaxError(err error) error {
	e := Error{File: d.file, Msg: err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Msg = "invalid YAML: " + ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = tk.Position.Line, tk.Position.Column
		}
	}
	return Errors{e}
}

// field is what the file says at one dotted path. Validation uses it for
// positions, and to tell "not given" (defaults apply) from "given".
type field struct {
	key ast.Node // the mapping key naming it; nil for list items
	val ast.Node // nil when absent or null
	bad bool     // wrong type, already reported
}

// decoder walks the YAML tree by hand instead of unmarshalling, so that every
// problem is collected with its own line and column.
type decoder struct {
	file    string
	errs    Errors
	anchors map[string]ast.Node
	fields  map[string]*field
}

func (d *decoder) errorf(n ast.Node, key, format string, args ...any) {
	e := Error{File: d.file, Key: key, Msg: fmt.Sprintf(format, args...)}
	e.Line, e.Col = position(n)
	d.errs = append(d.errs, e)
}

// position is where n starts; 1:1 when there is no node (the whole file).
func position(n ast.Node) (line, col int) {
	if n == nil {
		return 1, 1
	}
	// A block mapping's own token is its first ':'; its first key is where
	// a person sees it start.
	if m, ok := n.(*ast.MappingNode); ok && !m.IsFlowStyle && len(m.Values) > 0 {
		n = m.Values[0].Key
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 1, 1
	}
	return tk.Position.Line, tk.Position.Column
}

func anchors(root ast.Node) map[string]ast.Node {
	v := anchorVisitor{}
	ast.Walk(v, root)
	return v
}

type anchorVisitor map[string]ast.Node

func (v anchorVisitor) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil {
		v[a.Name.GetToken().Value] = a.Value
	}
	return v
}

// resolve looks through tags, anchors and aliases to the value itself;
// nil means null.
func (d *decoder) resolve(n ast.Node) ast.Node {
	for range 100 {
		switch x := n.(type) {
		case nil, *ast.NullNode:
			return nil
		case *ast.TagNode:
			n = x.Value
		case *ast.AnchorNode:
			n = x.Value
		case *ast.AliasNode:
			name := x.Value.GetToken().Value
			target, ok := d.anchors[name]
			if !ok {
				d.errorf(x, "", "unknown alias *%s: define &%s before using it", name, name)
				return nil
			}
			n = target
		default:
			return n
		}
	}
	return nil
}

// entries lists a mapping's key/value pairs, with YAML merge keys (<<: *x)
// expanded: merged pairs first, then the mapping's own, which win.
func (d *decoder) entries(m *ast.MappingNode) []*ast.MappingValueNode {
	var out []*ast.MappingValueNode
	index := map[string]int{}
	add := func(e *ast.MappingValueNode) {
		k := keyText(e.Key)
		if i, ok := index[k]; ok {
			out[i] = e
			return
		}
		index[k] = len(out)
		out = append(out, e)
	}
	var own []*ast.MappingValueNode
	for _, e := range m.Values {
		if e.Key == nil || !e.Key.IsMergeKey() {
			own = append(own, e)
			continue
		}
		var sources []ast.Node
		switch v := d.resolve(e.Value).(type) {
		case *ast.MappingNode:
			sources = []ast.Node{v}
		case *ast.SequenceNode:
			sources = v.Values
		default:
			d.errorf(e.Key, "", "<< must merge a mapping")
		}
		for _, s := range sources {
			if sm, ok := d.resolve(s).(*ast.MappingNode); ok {
				for _, se := range d.entries(sm) {
					add(se)
				}
			} else {
				d.errorf(s, "", "<< must merge a mapping")
			}
		}
	}
	for _, e := range own {
		add(e)
	}
	return out
}

func keyText(k ast.Node) string {
	if s, ok := scalarText(k); ok {
		return s
	}
	if k == nil {
		return ""
	}
	return k.String()
}

// scalarText is a scalar as written: numbers and booleans keep their
// spelling ("0x10" stays "0x10"), so env values mean what the file shows.
func scalarText(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value, true
	case *ast.LiteralNode:
		return x.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return x.GetToken().Value, true
	}
	return "", false
}

// describe names what a node is, for "expected X, got Y".
func describe(n ast.Node) string {
	switch n.(type) {
	case nil:
		return "nothing"
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	}
	s, _ := scalarText(n)
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return fmt.Sprintf("%q", s)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) typeError(path string, n ast.Node, want string) {
	d.fields[path].bad = true
	d.errorf(n, path, "expected %s, got %s", want, describe(n))
}

// decode reads val into v, which is a field of Config or of a type inside it.
// Problems are recorded, never returned, so one pass finds them all.
func (d *decoder) decode(path string, key, val ast.Node, v reflect.Value) {
	val = d.resolve(val)
	f := &field{key: key, val: val}
	d.fields[path] = f
	if val == nil {
		return // null or absent: the zero value stays and the default applies
	}
	if v.Kind() == reflect.String { // string, and the named modes like WebServer
		s, ok := scalarText(val)
		if !ok {
			d.typeError(path, val, "a string")
			return
		}
		if d.plain(path, val, s) {
			v.SetString(s)
		}
		return
	}
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String && v.Type() != reflect.TypeOf([]string(nil)) {
		// Lists of named strings (roles) decode as []string.
		var strs []string
		d.decode(path, key, val, reflect.ValueOf(&strs).Elem())
		if strs != nil {
			out := reflect.MakeSlice(v.Type(), len(strs), len(strs))
			for i, s := range strs {
				out.Index(i).SetString(s)
			}
			v.Set(out)
		}
		return
	}
	switch p := v.Addr().Interface().(type) {
	case *int:
		n, ok := intValue(val)
		if !ok {
			d.typeError(path, val, "an integer")
			return
		}
		*p = n
	case *bool:
		b, ok := val.(*ast.BoolNode)
		if !ok {
			d.typeError(path, val, "true or false")
			return
		}
		*p = b.Value
	case *time.Duration:
		// A bare number is read as seconds, like gunicorn's timeouts.
		if n, ok := intValue(val); ok {
			*p = time.Duration(n) * time.Second
			return
		}
		s, ok := val.(*ast.StringNode)
		if !ok {
			d.typeError(path, val, `a duration like "5s"`)
			return
		}
		t, err := time.ParseDuration(s.Value)
		if err != nil {
			f.bad = true
			d.errorf(val, path, `%q is not a duration like "5s" or "1m30s"`, s.Value)
			return
		}
		*p = t
	case *[]string:
		seq, ok := val.(*ast.SequenceNode)
		if !ok {
			d.typeError(path, val, "a list")
			return
		}
		*p = []string{} // given but empty is not the same as not given
		for i, item := range seq.Values {
			ip := fmt.Sprintf("%s[%d]", path, i)
			item = d.resolve(item)
			d.fields[ip] = &field{val: item}
			s, ok := scalarText(item)
			if !ok {
				d.typeError(ip, orNode(item, seq), "a string")
			} else {
				d.plain(ip, item, s)
			}
			*p = append(*p, s) // even when wrong, so indexes match the file
		}
	case *map[string]string:
		m, ok := val.(*ast.MappingNode)
		if !ok {
			d.typeError(path, val, "a mapping of NAME: value")
			return
		}
		*p = map[string]string{}
		for _, e := range d.entries(m) {
			name := keyText(e.Key)
			kp := join(path, name)
			item := d.resolve(e.Value)
			d.fields[kp] = &field{key: e.Key, val: item}
			if item == nil {
				(*p)[name] = ""
				continue
			}
			s, ok := scalarText(item)
			if !ok {
				d.typeError(kp, item, "a string, number or boolean")
				continue
			}
			d.plain(kp, item, s)
			(*p)[name] = s
		}
	case *[]*Stage:
		m, ok := val.(*ast.MappingNode)
		if !ok {
			d.typeError(path, val, "a mapping of stage names to stages")
			return
		}
		*p = []*Stage{}
		for _, e := range d.entries(m) {
			s := &Stage{Name: keyText(e.Key)}
			d.decode(join(path, s.Name), e.Key, e.Value, reflect.ValueOf(s).Elem())
			*p = append(*p, s)
		}
	case *[]*Process:
		m, ok := val.(*ast.MappingNode)
		if !ok {
			d.typeError(path, val, "a mapping of process names to commands")
			return
		}
		*p = []*Process{}
		for _, e := range d.entries(m) {
			proc := &Process{Name: keyText(e.Key)}
			kp := join(path, proc.Name)
			item := d.resolve(e.Value)
			if s, ok := scalarText(item); ok {
				// The short form: name: command.
				d.fields[kp] = &field{key: e.Key, val: item}
				d.fields[kp+".command"] = &field{key: e.Key, val: item}
				d.plain(kp, item, s)
				proc.Command = s
			} else {
				d.decode(kp, e.Key, e.Value, reflect.ValueOf(proc).Elem())
			}
			*p = append(*p, proc)
		}
	case *[]*Host:
		seq, ok := val.(*ast.SequenceNode)
		if !ok {
			d.typeError(path, val, "a list of hosts")
			return
		}
		*p = []*Host{}
		for i, item := range seq.Values {
			ip := fmt.Sprintf("%s[%d]", path, i)
			item = d.resolve(item)
			h := &Host{}
			if s, ok := scalarText(item); ok {
				d.fields[ip] = &field{val: item}
				d.plain(ip, item, s)
				h.Address = s
			} else if _, ok := item.(*ast.MappingNode); ok {
				d.decode(ip, nil, item, reflect.ValueOf(h).Elem())
			} else {
				d.fields[ip] = &field{val: item}
				d.typeError(ip, orNode(item, seq), `an address like "deploy@203.0.113.5" or a mapping with host:`)
			}
			*p = append(*p, h)
		}
	default:
		if v.Kind() != reflect.Struct {
			panic("config: no decoder for " + v.Type().String())
		}
		d.structure(path, val, v)
	}
}

// plain reports a value holding a control character, a Unicode line
// separator or invalid UTF-8, and marks the field bad. Values end up in
// systemd units, web server configs, env files and HTTP requests, where
// such a character ends a line or a header and starts a new one; no value
// hoist.yml needs has one. It returns whether s is plain.
func (d *decoder) plain(path string, n ast.Node, s string) bool {
	bad := ""
	if !utf8.ValidString(s) {
		bad = "invalid UTF-8"
	} else if i := strings.IndexFunc(s, IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		bad = fmt.Sprintf("the control character %U", r)
	} else {
		return true
	}
	if f := d.fields[path]; f != nil {
		f.bad = true
	}
	d.errorf(n, path, "must not hold %s: no line breaks, tabs or other control characters (it is written into unit, site and env files)", bad)
	return false
}

// IsControl tells whether r is a character no value may hold: a control
// character (line breaks, tab, NUL, C1 controls) or a Unicode line or
// paragraph separator.
func IsControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
}

// orNode is n, or fallback when n is null, so an error still has a place.
func orNode(n, fallback ast.Node) ast.Node {
	if n == nil {
		return fallback
	}
	return n
}

func intValue(n ast.Node) (int, bool) {
	i, ok := n.(*ast.IntegerNode)
	if !ok {
		return 0, false
	}
	switch v := i.Value.(type) {
	case int64:
		if v == int64(int(v)) {
			return int(v), true
		}
	case uint64:
		if v <= uint64(^uint(0)>>1) {
			return int(v), true
		}
	}
	return 0, false
}

// structure reads a mapping into a struct by its yaml tags, reporting keys
// the struct does not have.
func (d *decoder) structure(path string, n ast.Node, v reflect.Value) {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.typeError(path, n, "a mapping")
		return
	}
	keys, index := yamlKeys(v.Type())
	for _, e := range d.entries(m) {
		name := keyText(e.Key)
		i, ok := index[name]
		if !ok {
			// x- keys are free at the top, a place to keep YAML anchors
			// (as in docker compose files).
			if path == "" && strings.HasPrefix(name, "x-") {
				continue
			}
			msg := fmt.Sprintf("unknown key %q", name)
			if s := suggest(name, keys); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(e.Key, path, "%s", msg)
			continue
		}
		d.decode(join(path, name), e.Key, e.Value, v.Field(i))
	}
}

// yamlKeys lists a struct's YAML keys in field order, and their field indexes.
func yamlKeys(t reflect.Type) ([]string, map[string]int) {
	var keys []string
	index := map[string]int{}
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		keys = append(keys, tag)
		index[tag] = i
	}
	return keys, index
}
