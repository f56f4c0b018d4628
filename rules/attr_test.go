package rules

import (
	"slices"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := []struct {
		in, want, err string
	}{
		{"Modality", "Modality", ""},
		{" Modality ", "Modality", ""},
		{"(0008,0060)", "Modality", ""},
		{"00080060", "Modality", ""},
		{"(0008,103e)", "SeriesDescription", ""},
		{"0008103E", "SeriesDescription", ""},
		{"(0008,0008)", "ImageType", ""},
		{"TransferSyntaxUID", "TransferSyntaxUID", ""},
		{"(0077,1001)", "(0077,1001)", ""},
		{"(0029,10ab)", "(0029,10AB)", ""},
		{"002910AB", "(0029,10AB)", ""},
		{"(0008,0000)", "(0008,0000)", ""}, // group length: no unique keyword
		{"(6002,3000)", "(6002,3000)", ""}, // repeating group, not in the dictionary
		{"modality", "", `"modality" is not a DICOM keyword; did you mean Modality?`},
		{"series_description", "", `"series_description" is not a DICOM keyword; did you mean SeriesDescription?`},
		{"Patient's Name", "", `"Patient's Name" is an attribute name; its keyword is PatientName`},
		{"Modalty", "", `"Modalty" is neither a DICOM keyword nor a tag like (0008,0060) or 00080060`},
		{"(0008,060)", "", `"(0008,060)" is neither a DICOM keyword nor a tag like (0008,0060) or 00080060`},
		{"(0008;0060)", "", `"(0008;0060)" is neither a DICOM keyword nor a tag like (0008,0060) or 00080060`},
		{"0x080060", "", `"0x080060" is neither a DICOM keyword nor a tag like (0008,0060) or 00080060`},
		{"(FFFE,E000)", "", `(FFFE,E000) is an item delimiter, not an attribute`},
		{"calling_ae", "", `"calling_ae" is neither a DICOM keyword nor a tag like (0008,0060) or 00080060`},
		{"", "", "empty attribute name"},
	}
	for _, c := range cases {
		got, err := Normalize(c.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != c.want || gotErr != c.err {
			t.Errorf("Normalize(%q) = %q, %q; want %q, %q", c.in, got, gotErr, c.want, c.err)
		}
	}
}

func TestMapSubject(t *testing.T) {
	m := MapSubject{"Modality": {"MR"}, "(0077,1001)": {"a", "b"}}
	for _, attr := range []string{"Modality", "(0008,0060)", "00080060", "(0077,1001)", "00771001"} {
		if v, ok := m.Values(attr); !ok || len(v) == 0 {
			t.Errorf("Values(%q) = %q, %v", attr, v, ok)
		}
	}
	for _, attr := range []string{"SeriesDescription", "modality", "(0077,1002)", "nonsense"} {
		if v, ok := m.Values(attr); ok {
			t.Errorf("Values(%q) = %q, want absent", attr, v)
		}
	}

	n, err := NewMapSubject(map[string][]string{"00080060": {"CT"}, "(0077,1001)": {"x"}, "SeriesDescription": {"s"}})
	if err != nil {
		t.Fatal(err)
	}
	if v := n["Modality"]; !slices.Equal(v, []string{"CT"}) || len(n) != 3 || n["(0077,1001)"] == nil || n["SeriesDescription"] == nil {
		t.Errorf("NewMapSubject = %q", n)
	}
	if _, err := NewMapSubject(map[string][]string{"Modality": {"CT"}, "(0008,0060)": {"MR"}}); err == nil ||
		err.Error() != `rules: "(0008,0060)" and "Modality" are the same attribute Modality` {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := NewMapSubject(map[string][]string{"Modalty": {"CT"}}); err == nil {
		t.Error("unknown keyword accepted")
	}
}

func TestPeerIP(t *testing.T) {
	cases := map[string]string{
		"10.1.2.3:104":           "10.1.2.3",
		"[::1]:104":              "::1",
		"[::ffff:10.1.2.3]:104":  "10.1.2.3",
		"[fe80::1%eth0]:104":     "fe80::1",
		"10.1.2.3":               "10.1.2.3",
		"2001:db8::1":            "2001:db8::1",
		"scanner.example.org:11": "scanner.example.org",
		"garbage":                "garbage",
		"":                       "",
	}
	for in, want := range cases {
		if got := peerIP(in); got != want {
			t.Errorf("peerIP(%q) = %q, want %q", in, got, want)
		}
	}
}
