package service

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/openbatch/openbatch/api"
)

// ValidateID checks a pool, job or task ID: 1 to 64 characters of
// letters, digits, hyphens and underscores.
func ValidateID(property, id string) error {
	if id == "" {
		return api.Missing(property)
	}
	if len(id) > api.MaxIDLength {
		return api.Invalid(property, id[:api.MaxIDLength]+"...", fmt.Sprintf("An ID can have at most %d characters.", api.MaxIDLength))
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return api.Invalid(property, id, fmt.Sprintf("An ID may contain only letters, digits, hyphens and underscores; %q is not allowed.", r))
		}
	}
	return nil
}

func validateDisplayName(property, s string) error {
	if utf8.RuneCountInString(s) > api.MaxDisplayNameLength {
		return api.Invalid(property, "", fmt.Sprintf("A display name can have at most %d characters.", api.MaxDisplayNameLength))
	}
	return nil
}

func validateEnv(property string, env []api.EnvironmentSetting) error {
	if err := validateListLen(property, len(env), api.MaxEnvironmentSettings); err != nil {
		return err
	}
	for i, e := range env {
		if e.Name == "" {
			return api.Missing(fmt.Sprintf("%s[%d].name", property, i))
		}
		if len(e.Name) > api.MaxEnvironmentValueLength || len(e.Value) > api.MaxEnvironmentValueLength {
			return api.Invalid(fmt.Sprintf("%s[%d]", property, i), "", fmt.Sprintf("An environment variable name or value can have at most %d bytes.", api.MaxEnvironmentValueLength))
		}
	}
	return nil
}

func validateDuration(property string, d *api.Duration) error {
	if d != nil && *d < 0 {
		return api.Invalid(property, d.String(), "A duration must not be negative.")
	}
	return nil
}

func validateTaskConstraints(property string, c *api.TaskConstraints) error {
	if c == nil {
		return nil
	}
	if err := validateDuration(property+".maxWallClockTime", c.MaxWallClockTime); err != nil {
		return err
	}
	if err := validateDuration(property+".retentionTime", c.RetentionTime); err != nil {
		return err
	}
	if c.MaxTaskRetryCount != nil && *c.MaxTaskRetryCount < -1 {
		return api.Invalid(property+".maxTaskRetryCount", strconv.Itoa(int(*c.MaxTaskRetryCount)), "maxTaskRetryCount must be -1 (unlimited) or at least 0.")
	}
	return nil
}

func validateUserIdentity(property string, u *api.UserIdentity) error {
	if u == nil {
		return nil
	}
	if u.UserName != "" && u.AutoUser != nil {
		return api.Invalid(property, "", "Specify either username or autoUser, not both.")
	}
	if a := u.AutoUser; a != nil {
		if a.Scope != "" && a.Scope != api.ScopeTask && a.Scope != api.ScopePool {
			return api.Invalid(property+".autoUser.scope", string(a.Scope), "scope must be task or pool.")
		}
		if a.ElevationLevel != "" && a.ElevationLevel != api.ElevationAdmin && a.ElevationLevel != api.ElevationNonAdmin {
			return api.Invalid(property+".autoUser.elevationLevel", string(a.ElevationLevel), "elevationLevel must be nonadmin or admin.")
		}
	}
	return nil
}

func validateExitOptions(property string, o *api.ExitOptions, job *api.Job) error {
	if o == nil {
		return nil
	}
	switch o.JobAction {
	case "", api.JobActionNone:
	case api.JobActionDisable, api.JobActionTerminate:
		if job != nil && job.OnTaskFailure != api.OnTaskFailurePerformExitOptionsJobAction {
			return api.Invalid(property+".jobAction", string(o.JobAction),
				"jobAction can only be set when the job's onTaskFailure is performexitoptionsjobaction.")
		}
	default:
		return api.Invalid(property+".jobAction", string(o.JobAction), "jobAction must be none, disable or terminate.")
	}
	switch o.DependencyAction {
	case "", api.DependencySatisfy, api.DependencyBlock:
	default:
		return api.Invalid(property+".dependencyAction", string(o.DependencyAction), "dependencyAction must be satisfy or block.")
	}
	if o.DependencyAction != "" && job != nil && (job.UsesTaskDependencies == nil || !*job.UsesTaskDependencies) {
		return &api.PropertyError{Code: api.CodeTaskDependenciesNotSpecified, Property: property + ".dependencyAction",
			Reason: "dependencyAction requires the job's usesTaskDependencies to be true."}
	}
	return nil
}

func validateExitConditions(property string, ec *api.ExitConditions, job *api.Job) error {
	if ec == nil {
		return nil
	}
	for i := range ec.ExitCodes {
		if err := validateExitOptions(fmt.Sprintf("%s.exitCodes[%d].exitOptions", property, i), &ec.ExitCodes[i].ExitOptions, job); err != nil {
			return err
		}
	}
	for i, r := range ec.ExitCodeRanges {
		p := fmt.Sprintf("%s.exitCodeRanges[%d]", property, i)
		if r.Start > r.End {
			return api.Invalid(p, fmt.Sprintf("%d-%d", r.Start, r.End), "start must not be greater than end.")
		}
		if err := validateExitOptions(p+".exitOptions", &ec.ExitCodeRanges[i].ExitOptions, job); err != nil {
			return err
		}
	}
	for name, o := range map[string]*api.ExitOptions{"preProcessingError": ec.PreProcessingError, "fileUploadError": ec.FileUploadError, "default": ec.Default} {
		if err := validateExitOptions(property+"."+name, o, job); err != nil {
			return err
		}
	}
	return nil
}

func validateDependsOn(property string, d *api.TaskDependencies, job *api.Job) error {
	if d == nil || (len(d.TaskIDs) == 0 && len(d.TaskIDRanges) == 0) {
		return nil
	}
	if job.UsesTaskDependencies == nil || !*job.UsesTaskDependencies {
		return &api.PropertyError{Code: api.CodeTaskDependenciesNotSpecified, Property: property,
			Reason: "The task has dependencies but its job was not created with usesTaskDependencies set to true."}
	}
	total := 0
	for i, id := range d.TaskIDs {
		if err := ValidateID(fmt.Sprintf("%s.taskIds[%d]", property, i), id); err != nil {
			return err
		}
		total += len(id)
	}
	if total > api.MaxTaskDependencyIDsLength {
		return &api.PropertyError{Code: api.CodeTaskDependencyListTooLong, Property: property + ".taskIds",
			Reason: fmt.Sprintf("The total length of taskIds must not exceed %d characters; use taskIdRanges.", api.MaxTaskDependencyIDsLength)}
	}
	for i, r := range d.TaskIDRanges {
		if r.Start > r.End || r.Start < 0 {
			return api.Invalid(fmt.Sprintf("%s.taskIdRanges[%d]", property, i), fmt.Sprintf("%d-%d", r.Start, r.End),
				"A task ID range needs 0 <= start <= end.")
		}
	}
	if n := api.TaskIDRangesSpan(d.TaskIDRanges); n > api.MaxTaskDependencyRangeIDs {
		return &api.PropertyError{Code: api.CodeTaskDependencyRangesTooLong, Property: property + ".taskIdRanges",
			Reason: fmt.Sprintf("The taskIdRanges cover %d task IDs; at most %d are allowed. Depend on fewer tasks, or on a task that depends on them.", n, api.MaxTaskDependencyRangeIDs)}
	}
	return nil
}
