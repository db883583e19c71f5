package service

import (
	"fmt"

	"github.com/openbatch/openbatch/api"
)

// This file checks request bodies against the limits in api/limits.go.
// Each check runs before any state is read or written.

// validateCommandLine refuses a command line longer than
// api.MaxCommandLineLength.
func validateCommandLine(property, cmd string) error {
	if len(cmd) > api.MaxCommandLineLength {
		return api.Invalid(property, "", fmt.Sprintf("The command line has %d bytes; it can have at most %d. Put long scripts in a resource file.", len(cmd), api.MaxCommandLineLength))
	}
	return nil
}

// validateMetadata refuses more than api.MaxMetadataItems items or more
// than api.MaxMetadataBytes of names and values.
func validateMetadata(property string, md []api.MetadataItem) error {
	if len(md) > api.MaxMetadataItems {
		return &api.PropertyError{Code: api.CodeMetadataTooLarge, Property: property,
			Reason: fmt.Sprintf("There are %d metadata items; at most %d are allowed.", len(md), api.MaxMetadataItems)}
	}
	size := 0
	for i, m := range md {
		if m.Name == "" {
			return api.Missing(fmt.Sprintf("%s[%d].name", property, i))
		}
		size += len(m.Name) + len(m.Value)
	}
	if size > api.MaxMetadataBytes {
		return &api.PropertyError{Code: api.CodeMetadataTooLarge, Property: property,
			Reason: fmt.Sprintf("The metadata names and values total %d bytes; at most %d are allowed.", size, api.MaxMetadataBytes)}
	}
	return nil
}

// validateTargetNodes refuses a pool target (dedicated plus low-priority)
// above api.MaxPoolTargetNodes, and above what the provisioner can create.
func (s *Service) validateTargetNodes(poolID string, dedicated, lowPriority *int32) error {
	for name, v := range map[string]*int32{"targetDedicatedNodes": dedicated, "targetLowPriorityNodes": lowPriority} {
		if v != nil && *v < 0 {
			return api.Invalid(name, fmt.Sprint(*v), name+" must not be negative.")
		}
	}
	total := int64(0)
	if dedicated != nil {
		total += int64(*dedicated)
	}
	if lowPriority != nil {
		total += int64(*lowPriority)
	}
	if total > api.MaxPoolTargetNodes {
		return api.Invalid("targetDedicatedNodes", fmt.Sprint(total),
			fmt.Sprintf("A pool can have at most %d target nodes (dedicated plus low-priority); ask for fewer.", api.MaxPoolTargetNodes))
	}
	if c, ok := s.Provisioner.(Capacity); ok {
		if err := c.CheckTarget(poolID, int(total)); err != nil {
			return api.Invalid("targetDedicatedNodes", fmt.Sprint(total), err.Error())
		}
	}
	return nil
}

// validateListLen refuses a list longer than max with
// RequestEntityTooLarge, as Azure answers oversized resource file lists.
func validateListLen(property string, n, max int) error {
	if n > max {
		return &api.PropertyError{Code: api.CodeRequestEntityTooLarge, Property: property,
			Reason: fmt.Sprintf("The list has %d entries; at most %d are allowed.", n, max)}
	}
	return nil
}

// validateOutputFileLimits bounds a task's output files and their upload
// headers.
func validateOutputFileLimits(files []api.OutputFile) error {
	if err := validateListLen("outputFiles", len(files), api.MaxOutputFiles); err != nil {
		return err
	}
	for i, f := range files {
		if len(f.FilePattern) > api.MaxCommandLineLength {
			return api.Invalid(fmt.Sprintf("outputFiles[%d].filePattern", i), "", fmt.Sprintf("A file pattern can have at most %d bytes.", api.MaxCommandLineLength))
		}
		c := f.Destination.Container
		if c == nil {
			continue
		}
		p := fmt.Sprintf("outputFiles[%d].destination.container.uploadHeaders", i)
		if err := validateListLen(p, len(c.UploadHeaders), api.MaxUploadHeaders); err != nil {
			return err
		}
		for j, h := range c.UploadHeaders {
			if len(h.Name) > api.MaxUploadHeaderLength || len(h.Value) > api.MaxUploadHeaderLength {
				return api.Invalid(fmt.Sprintf("%s[%d]", p, j), "", fmt.Sprintf("An upload header name or value can have at most %d bytes.", api.MaxUploadHeaderLength))
			}
		}
	}
	return nil
}

// validateTaskLimits bounds the lists and strings of a task add body.
func validateTaskLimits(t *api.Task) error {
	if err := validateCommandLine("commandLine", t.CommandLine); err != nil {
		return err
	}
	if err := validateListLen("resourceFiles", len(t.ResourceFiles), api.MaxResourceFiles); err != nil {
		return err
	}
	if m := t.MultiInstanceSettings; m != nil {
		if err := validateCommandLine("multiInstanceSettings.coordinationCommandLine", m.CoordinationCommandLine); err != nil {
			return err
		}
		if err := validateListLen("multiInstanceSettings.commonResourceFiles", len(m.CommonResourceFiles), api.MaxResourceFiles); err != nil {
			return err
		}
	}
	return validateOutputFileLimits(t.OutputFiles)
}
