package dimse

import (
	"strings"

	"github.com/tweedie-recon/tweedie/part10"
)

// ImplementationClassUID identifies tweedie in association negotiation
// (PS3.7 §D.3.3.2); see part10.ImplementationClassUID.
const ImplementationClassUID = part10.ImplementationClassUID

// ImplementationVersionName is sent with the class UID (at most 16 characters).
const ImplementationVersionName = part10.ImplementationVersionName

// SOP classes named by the services (PS3.4 Annex A, B).
const (
	VerificationSOPClass         = "1.2.840.10008.1.1"
	RawDataStorage               = "1.2.840.10008.5.1.4.1.1.66"
	MRImageStorage               = "1.2.840.10008.5.1.4.1.1.4"
	EnhancedMRImageStorage       = "1.2.840.10008.5.1.4.1.1.4.1"
	CTImageStorage               = "1.2.840.10008.5.1.4.1.1.2"
	EnhancedCTImageStorage       = "1.2.840.10008.5.1.4.1.1.2.1"
	SecondaryCaptureImageStorage = "1.2.840.10008.5.1.4.1.1.7"
)

// storagePrefix is the root of the standard Storage SOP classes, PS3.4 §B.5.
const storagePrefix = "1.2.840.10008.5.1.4.1.1."

// StorageSOPClasses is the default list the Storage SCP accepts: the image,
// raw-data, spectroscopy, structured report and presentation-state classes a
// reconstruction node meets (PS3.4 Table B.5-1).
var StorageSOPClasses = []string{
	"1.2.840.10008.5.1.4.1.1.1",     // Computed Radiography
	"1.2.840.10008.5.1.4.1.1.1.1",   // Digital X-Ray (presentation)
	"1.2.840.10008.5.1.4.1.1.1.1.1", // Digital X-Ray (processing)
	CTImageStorage,                  // CT Image
	EnhancedCTImageStorage,          // Enhanced CT Image
	"1.2.840.10008.5.1.4.1.1.2.2",   // Legacy Converted Enhanced CT
	"1.2.840.10008.5.1.4.1.1.3.1",   // Ultrasound Multi-frame
	MRImageStorage,                  // MR Image
	EnhancedMRImageStorage,          // Enhanced MR Image
	"1.2.840.10008.5.1.4.1.1.4.2",   // MR Spectroscopy
	"1.2.840.10008.5.1.4.1.1.4.3",   // Enhanced MR Color Image
	"1.2.840.10008.5.1.4.1.1.4.4",   // Legacy Converted Enhanced MR
	"1.2.840.10008.5.1.4.1.1.6.1",   // Ultrasound Image
	SecondaryCaptureImageStorage,    // Secondary Capture
	"1.2.840.10008.5.1.4.1.1.7.2",   // Multi-frame Grayscale Byte SC
	"1.2.840.10008.5.1.4.1.1.7.3",   // Multi-frame Grayscale Word SC
	"1.2.840.10008.5.1.4.1.1.7.4",   // Multi-frame True Color SC
	"1.2.840.10008.5.1.4.1.1.11.1",  // Grayscale Softcopy Presentation State
	"1.2.840.10008.5.1.4.1.1.20",    // Nuclear Medicine
	"1.2.840.10008.5.1.4.1.1.30",    // Parametric Map
	RawDataStorage,                  // Raw Data
	"1.2.840.10008.5.1.4.1.1.66.1",  // Spatial Registration
	"1.2.840.10008.5.1.4.1.1.66.4",  // Segmentation
	"1.2.840.10008.5.1.4.1.1.88.11", // Basic Text SR
	"1.2.840.10008.5.1.4.1.1.88.22", // Enhanced SR
	"1.2.840.10008.5.1.4.1.1.88.33", // Comprehensive SR
	"1.2.840.10008.5.1.4.1.1.104.1", // Encapsulated PDF
	"1.2.840.10008.5.1.4.1.1.128",   // PET Image
	"1.2.840.10008.5.1.4.1.1.130",   // Enhanced PET Image
	"1.2.840.10008.5.1.4.1.1.481.1", // RT Image
	"1.2.840.10008.5.1.4.1.1.481.2", // RT Dose
	"1.2.840.10008.5.1.4.1.1.481.3", // RT Structure Set
	"1.2.840.10008.5.1.4.1.1.481.5", // RT Plan
}

// IsStorageSOPClass reports whether uid is a standard Storage SOP class or a
// private (non-DICOM-rooted) class; the "accept any storage" option uses it.
// Standard non-storage classes (verification, query/retrieve, worklist, N-*
// services) are not storage.
func IsStorageSOPClass(uid string) bool {
	if strings.HasPrefix(uid, storagePrefix) {
		return true
	}
	return !strings.HasPrefix(uid, "1.2.840.10008.")
}
