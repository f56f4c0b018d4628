package rawdata

// Standard attributes written and read (PS3.6 data dictionary).
var (
	tagSpecificCharacterSet  = T(0x0008, 0x0005)
	tagImageType             = T(0x0008, 0x0008)
	tagInstanceCreationDate  = T(0x0008, 0x0012)
	tagInstanceCreationTime  = T(0x0008, 0x0013)
	tagSOPClassUID           = T(0x0008, 0x0016)
	tagSOPInstanceUID        = T(0x0008, 0x0018)
	tagStudyDate             = T(0x0008, 0x0020)
	tagSeriesDate            = T(0x0008, 0x0021)
	tagContentDate           = T(0x0008, 0x0023)
	tagStudyTime             = T(0x0008, 0x0030)
	tagSeriesTime            = T(0x0008, 0x0031)
	tagContentTime           = T(0x0008, 0x0033)
	tagAccessionNumber       = T(0x0008, 0x0050)
	tagModality              = T(0x0008, 0x0060)
	tagManufacturer          = T(0x0008, 0x0070)
	tagInstitutionName       = T(0x0008, 0x0080)
	tagReferringPhysician    = T(0x0008, 0x0090)
	tagStationName           = T(0x0008, 0x1010)
	tagStudyDescription      = T(0x0008, 0x1030)
	tagSeriesDescription     = T(0x0008, 0x103E)
	tagPatientName           = T(0x0010, 0x0010)
	tagPatientID             = T(0x0010, 0x0020)
	tagPatientBirthDate      = T(0x0010, 0x0030)
	tagPatientSex            = T(0x0010, 0x0040)
	tagPatientPosition       = T(0x0018, 0x5100)
	tagStudyInstanceUID      = T(0x0020, 0x000D)
	tagSeriesInstanceUID     = T(0x0020, 0x000E)
	tagStudyID               = T(0x0020, 0x0010)
	tagSeriesNumber          = T(0x0020, 0x0011)
	tagInstanceNumber        = T(0x0020, 0x0013)
	tagLaterality            = T(0x0020, 0x0060)
	tagFrameOfReferenceUID   = T(0x0020, 0x0052)
	tagCreatorVersionUID     = T(0x0008, 0x9123)
	tagPositionRefIndicator  = T(0x0020, 0x1040)
	tagAcquisitionContextSeq = T(0x0040, 0x0555)
)

// The private block, PS3.5 §7.8.1: creator (0077,0010) reserves
// (0077,1000)–(0077,10FF). docs/raw-data.md is the conformance statement.
const (
	privateGroup   = 0x0077
	PrivateCreator = "TWEEDIE RAW 1"
)

// The tags of the block that the gateway reads to complete a series
// (TagPrivateCreator, TagAcquisitionUID, TagNumInstances, TagTotalSlices)
// and derived images write are exported; this is their one definition.
var (
	TagPrivateCreator  = T(privateGroup, 0x0010)
	tagDataKind        = T(privateGroup, 0x1001) // CS MR_KSPACE | CT_SINOGRAM
	tagArrayDims       = T(privateGroup, 0x1002) // UL, in storage order
	tagArrayLayout     = T(privateGroup, 0x1003) // CS names of the dimensions
	tagSampleFormat    = T(privateGroup, 0x1004) // CS COMPLEX64_LE | FLOAT32_LE
	tagSamplingMask    = T(privateGroup, 0x1005) // OB, one byte (0/1) per k-space sample of a slice
	tagMaskDims        = T(privateGroup, 0x1006) // US rows, cols of the mask
	TagAcquisitionUID  = T(privateGroup, 0x1010) // UI, shared by the instances of one acquisition
	TagNumInstances    = T(privateGroup, 0x1011) // UL instances in the acquisition
	tagInstanceIndex   = T(privateGroup, 0x1012) // UL 1-based index of this instance
	tagFirstSlice      = T(privateGroup, 0x1013) // UL 0-based index of this instance's first slice
	TagTotalSlices     = T(privateGroup, 0x1014) // UL slices in the acquisition
	tagOrientation     = T(privateGroup, 0x1020) // FD 6: row and column direction cosines
	tagSlicePositions  = T(privateGroup, 0x1021) // FD 3 per slice: position of the first voxel, mm
	tagPixelSpacing    = T(privateGroup, 0x1022) // FD 2: row spacing, column spacing of the image, mm
	tagSliceThickness  = T(privateGroup, 0x1023) // FD mm
	tagImageMatrix     = T(privateGroup, 0x1024) // US 2: rows, cols of the reconstructed image
	tagISMRMRDHeader   = T(privateGroup, 0x1030) // UT, verbatim ISMRMRD XML, optional
	tagAnglesDeg       = T(privateGroup, 0x1040) // FD per view, degrees
	tagBeamGeometry    = T(privateGroup, 0x1041) // CS PARALLEL | FAN
	tagDetectorSpacing = T(privateGroup, 0x1042) // FD mm (parallel) or degrees (fan, equiangular)
	tagDetectorOffset  = T(privateGroup, 0x1043) // FD centre of rotation offset, in detector elements
	tagSourceIso       = T(privateGroup, 0x1044) // FD mm
	tagSourceDetector  = T(privateGroup, 0x1045) // FD mm
	tagMuWater         = T(privateGroup, 0x1046) // FD 1/mm
	tagArrayData       = T(privateGroup, 0x10F0) // OF, the samples
	// TagValueScale is in derived MR images (package derived), not in raw
	// data: physical value = stored value × ValueScale (FD).
	TagValueScale = T(privateGroup, 0x1060)
)

// RawDataStorage is the SOP class of raw-data objects, PS3.4 Annex B.
const RawDataStorage = "1.2.840.10008.5.1.4.1.1.66"

// Data kinds.
const (
	KindMRKSpace   = "MR_KSPACE"
	KindCTSinogram = "CT_SINOGRAM"
)

// vrOf gives the VR of the tags this package reads when the object arrives
// in Implicit VR Little Endian.
func vrOf(t Tag) string {
	switch t {
	case TagPrivateCreator:
		return "LO"
	case tagDataKind, tagArrayLayout, tagSampleFormat, tagBeamGeometry, tagModality, tagImageType, tagPatientSex, tagSpecificCharacterSet, tagPatientPosition:
		return "CS"
	case tagArrayDims, TagNumInstances, tagInstanceIndex, tagFirstSlice, TagTotalSlices:
		return "UL"
	case tagMaskDims, tagImageMatrix:
		return "US"
	case tagSamplingMask:
		return "OB"
	case tagOrientation, tagSlicePositions, tagPixelSpacing, tagSliceThickness, tagAnglesDeg, tagDetectorSpacing,
		tagDetectorOffset, tagSourceIso, tagSourceDetector, tagMuWater:
		return "FD"
	case tagISMRMRDHeader:
		return "UT"
	case tagArrayData:
		return "OF"
	case TagAcquisitionUID, tagSOPClassUID, tagSOPInstanceUID, tagStudyInstanceUID, tagSeriesInstanceUID, tagFrameOfReferenceUID:
		return "UI"
	case tagAcquisitionContextSeq:
		return "SQ"
	case tagSeriesNumber, tagInstanceNumber:
		return "IS"
	}
	return "UN"
}
