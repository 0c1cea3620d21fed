/* Parser of plan files (PLAN.md "Plan text (version 1)"). Strict: anything unexpected is an error
 * naming the file and line, and the program it belongs to is skipped. */
#include "plan.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define GIB4 0x100000000ull

enum argkind { A_NUM, A_PAIR, A_SLOT, A_TEXT, A_ORDER, A_BOOL, A_SYNC };

#define SPEC_ARGS 24

struct argspec {
	const char *key;
	enum argkind kind;
	int required;
};

struct opspec {
	const char *name;
	enum op op;
	struct argspec args[SPEC_ARGS];
	int repeat;	/* `mem`: any number of its keys, in order */
};

static const struct opspec ops[] = {
	{"wrmsr", S_WRMSR, {{"msr", A_NUM, 1}, {"value", A_NUM, 1}, {"emulate", A_BOOL}}},
	{"vmrun", S_VMRUN, {{"gpa", A_NUM, 1}, {"emulate", A_BOOL}}},
	{"vmload", S_VMLOAD, {{"gpa", A_NUM, 1}, {"emulate", A_BOOL}}},
	{"vmsave", S_VMSAVE, {{"gpa", A_NUM, 1}, {"emulate", A_BOOL}}},
	{"vmmcall", S_VMMCALL, {{"emulate", A_BOOL}}},
	{"stgi", S_STGI, {{"emulate", A_BOOL}}},
	{"clgi", S_CLGI, {{"emulate", A_BOOL}}},
	{"rsm", S_RSM, {{"emulate", A_BOOL}}},
	{"triple_fault", S_TRIPLE_FAULT, {{0}}},
	{"mem", S_MEM, {{"zero", A_PAIR}, {"w8", A_PAIR}, {"w16", A_PAIR}, {"w32", A_PAIR}, {"w64", A_PAIR}}, 1},
	{"smi", S_SMI, {{0}}},
	{"init", S_INIT, {{0}}},
	{"signal", S_SIGNAL, {{0}}},
	/* plain, or with kvm_run's doors: immediate_exit, kvm_dirty_regs (sync=) and the blocks' fields */
	{"run", S_RUN,
	 {{"immediate_exit", A_BOOL}, {"sync", A_SYNC}, {"rip", A_NUM}, {"rsp", A_NUM}, {"rax", A_NUM},
	  {"rflags", A_NUM}, {"efer", A_NUM}, {"cr0", A_NUM}, {"cr2", A_NUM}, {"cr3", A_NUM}, {"cr4", A_NUM},
	  {"smm", A_BOOL}, {"smi_pending", A_BOOL}, {"latched_init", A_BOOL}, {"triple_fault", A_BOOL},
	  {"interrupt", A_BOOL}, {"exception", A_NUM}, {"injected", A_BOOL}, {"error_code", A_NUM}}},
	{"set_sregs", S_SET_SREGS, {{"efer", A_NUM}, {"cr0", A_NUM}, {"cr2", A_NUM}, {"cr3", A_NUM}, {"cr4", A_NUM}}},
	{"set_regs", S_SET_REGS, {{"rip", A_NUM}, {"rsp", A_NUM}, {"rax", A_NUM}, {"rflags", A_NUM}}},
	{"set_msrs", S_SET_MSRS, {{"efer", A_NUM}, {"hsave_pa", A_NUM}, {"vm_cr", A_NUM}}},
	{"set_vcpu_events", S_SET_VCPU_EVENTS,
	 {{"smm", A_BOOL}, {"smi_pending", A_BOOL}, {"latched_init", A_BOOL}, {"triple_fault", A_BOOL},
	  {"interrupt", A_BOOL}, {"exception", A_NUM}, {"injected", A_BOOL}, {"error_code", A_NUM}}},
	{"set_nested_state", S_SET_NESTED_STATE,
	 {{"slot", A_SLOT, 1}, {"flags", A_NUM}, {"vmcb_pa", A_NUM}, {"format", A_NUM}, {"size", A_NUM}}},
	{"snapshot", S_SNAPSHOT, {{"slot", A_SLOT, 1}}},
	{"restore", S_RESTORE, {{"slot", A_SLOT, 1}, {"order", A_ORDER}, {"fresh", A_BOOL}}},
	{"reset", S_RESET, {{0}}},
	{"destroy", S_DESTROY, {{0}}},
	{"nop", S_NOP, {{"what", A_TEXT}}},
	{"unsupported", S_UNSUPPORTED, {{"what", A_TEXT}}},
};

static int parse_num(const char *s, uint64_t *out)
{
	char *end;
	int base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!isxdigit((unsigned char)*s) || (base == 10 && !isdigit((unsigned char)*s)))
		return -1;
	errno = 0;
	*out = strtoull(s, &end, base);
	return (*end || errno) ? -1 : 0;
}

static int perr(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* Splits line into at most max tokens at runs of blanks; returns the count. */
static int tokenize(char *line, char **tok, int max)
{
	int n = 0;
	char *p = line;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			*p++ = 0;
		if (!*p)
			break;
		if (n == max)
			return max + 1;
		tok[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	return n;
}

/* A comma-separated list of the first n of names. */
static int valid_list(const char *s, const char *const *names, unsigned n)
{
	char buf[64];
	if (strlen(s) >= sizeof buf)
		return 0;
	strcpy(buf, s);
	for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int ok = 0;
		for (unsigned i = 0; i < n; i++)
			ok |= !strcmp(t, names[i]);
		if (!ok)
			return 0;
	}
	return 1;
}

static const char *const restore_steps[] = {"sregs", "nested", "regs", "msrs", "events"};
static const char *const sync_blocks[] = {"regs", "sregs", "events"};

/* One `key=value` argument of a step. */
static int parse_arg(const struct opspec *spec, char *tok, struct arg *a, const char *file, int line)
{
	char *eq = strchr(tok, '=');
	if (!eq)
		return perr(file, line, "expected key=value, got '%s'", tok);
	*eq = 0;
	const char *val = eq + 1;
	const struct argspec *as = NULL;
	for (int i = 0; i < SPEC_ARGS && spec->args[i].key; i++)
		if (!strcmp(spec->args[i].key, tok))
			as = &spec->args[i];
	if (!as)
		return perr(file, line, "expected an argument of %s, got '%s'", spec->name, tok);
	snprintf(a->key, sizeof a->key, "%s", tok);
	switch (as->kind) {
	case A_NUM:
		if (parse_num(val, &a->v))
			return perr(file, line, "expected a number for %s, got '%s'", tok, val);
		break;
	case A_BOOL:
		if (parse_num(val, &a->v) || a->v > 1)
			return perr(file, line, "expected 0 or 1 for %s, got '%s'", tok, val);
		break;
	case A_PAIR: {
		char buf[64];
		snprintf(buf, sizeof buf, "%s", val);
		char *colon = strchr(buf, ':');
		if (!colon)
			return perr(file, line, "expected %s=GPA:%s, got '%s'", tok,
				    strcmp(tok, "zero") ? "VALUE" : "LEN", val);
		*colon = 0;
		if (parse_num(buf, &a->v) || parse_num(colon + 1, &a->v2))
			return perr(file, line, "expected numbers in %s=%s", tok, val);
		uint64_t size = !strcmp(tok, "zero") ? a->v2 : (uint64_t)atoi(tok + 1) / 8;
		if (a->v >= GIB4 || size > GIB4 - a->v)
			return perr(file, line, "expected a range inside 0..4 GiB in %s=%s", tok, val);
		if (strcmp(tok, "zero") && size < 8 && (a->v2 >> (size * 8)))
			return perr(file, line, "expected a value that fits %s, got '%s'", tok, val);
		break;
	}
	case A_SLOT:
		if (strlen(val) != 1 || val[0] < 'A' || val[0] > 'D')
			return perr(file, line, "expected slot=A..D, got '%s'", val);
		a->v = (uint64_t)(val[0] - 'A');
		break;
	case A_ORDER:
		if (!valid_list(val, restore_steps, 5))
			return perr(file, line, "expected order= a list of sregs,nested,regs,msrs,events, got '%s'", val);
		/* fallthrough */
	case A_SYNC:
		if (as->kind == A_SYNC && !valid_list(val, sync_blocks, 3))
			return perr(file, line, "expected sync= a list of regs,sregs,events, got '%s'", val);
		/* fallthrough */
	case A_TEXT:
		snprintf(a->text, sizeof a->text, "%s", val);
		break;
	}
	return 0;
}

static int parse_step(char **tok, int ntok, struct step *s, const char *file, int line)
{
	uint64_t n, l;
	if (ntok < 4 || parse_num(tok[1], &n) || parse_num(tok[2], &l))
		return perr(file, line, "expected 'step <n> <line> <op> [key=value ...]'");
	const struct opspec *spec = NULL;
	for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (!strcmp(ops[i].name, tok[3]))
			spec = &ops[i];
	if (!spec)
		return perr(file, line, "expected an op (wrmsr, vmrun, mem, ...), got '%s'", tok[3]);
	memset(s, 0, sizeof *s);
	s->n = (int)n;
	s->line = (int)l;
	s->srcline = line;
	s->op = spec->op;
	s->name = spec->name;
	for (int i = 4; i < ntok; i++) {
		if (s->nargs == MAX_ARGS)
			return perr(file, line, "expected at most %d arguments", MAX_ARGS);
		if (parse_arg(spec, tok[i], &s->args[s->nargs], file, line))
			return -1;
		if (!spec->repeat)
			for (int j = 0; j < s->nargs; j++)
				if (!strcmp(s->args[j].key, s->args[s->nargs].key))
					return perr(file, line, "expected %s only once", s->args[j].key);
		s->nargs++;
	}
	for (int i = 0; i < SPEC_ARGS && spec->args[i].key; i++)
		if (spec->args[i].required && !step_arg(s, spec->args[i].key))
			return perr(file, line, "expected %s= for %s", spec->args[i].key, spec->name);
	return 0;
}

static int parse_config(char **tok, int ntok, struct config *c, const char *file, int line)
{
	for (int i = 1; i < ntok; i++) {
		char *eq = strchr(tok[i], '=');
		uint64_t v;
		if (!eq || parse_num(eq + 1, &v) || v > 1)
			return perr(file, line, "expected config key=0|1, got '%s'", tok[i]);
		*eq = 0;
		int *slot = !strcmp(tok[i], "nested") ? &c->nested
			  : !strcmp(tok[i], "npt")    ? &c->npt
			  : !strcmp(tok[i], "vgif")   ? &c->vgif
			  : !strcmp(tok[i], "svm")    ? &c->svm
			  : !strcmp(tok[i], "lm")     ? &c->lm
			  : !strcmp(tok[i], "nrips")  ? &c->nrips
			  : !strcmp(tok[i], "fep")    ? &c->fep
						      : NULL;
		if (!slot)
			return perr(file, line, "expected a config key (nested npt vgif svm lm nrips fep), got '%s'", tok[i]);
		*slot = (int)v;
	}
	return 0;
}

const struct arg *step_arg(const struct step *s, const char *key)
{
	for (int i = 0; i < s->nargs; i++)
		if (!strcmp(s->args[i].key, key))
			return &s->args[i];
	return NULL;
}

void plan_free(struct plan *p)
{
	free(p->steps);
	p->steps = NULL;
}

/* Reads one line without its comment and trailing newline; 0 at end of file. */
static int read_line(FILE *f, char *buf, size_t size, int *lineno)
{
	if (!fgets(buf, (int)size, f))
		return 0;
	(*lineno)++;
	size_t len = strlen(buf);
	if (len == size - 1 && buf[len - 1] != '\n') { /* overlong: drop the rest, make it an error */
		int c;
		while ((c = fgetc(f)) != EOF && c != '\n')
			;
		strcpy(buf, "\001overlong");
		return 1;
	}
	char *hash = strchr(buf, '#');
	if (hash)
		*hash = 0;
	len = strlen(buf);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		buf[--len] = 0;
	return 1;
}

int plan_read(FILE *f, const char *file, int *lineno, struct plan *p)
{
	static char line[16384];
	char *tok[MAX_ARGS + 8];
	int in_plan = 0, failed = 0, cap = 0;
	memset(p, 0, sizeof *p);
	p->cfg = (struct config){-1, -1, -1, -1, -1, -1, -1};
	while (read_line(f, line, sizeof line, lineno)) {
		if (line[0] == '\001') {
			if (!failed)
				perr(file, *lineno, "expected a line shorter than %zu characters", sizeof line);
			failed = 1;
			continue;
		}
		char *rest = line;
		while (*rest == ' ' || *rest == '\t')
			rest++;
		if (!*rest)
			continue;
		/* `program` takes the rest of the line as it is (a path). */
		if (!strncmp(rest, "program ", 8)) {
			if (!in_plan && !failed) {
				perr(file, *lineno, "expected 'plan 1' before 'program'");
				failed = in_plan = 1;
			}
			snprintf(p->program, sizeof p->program, "%s", rest + 8);
			continue;
		}
		int ntok = tokenize(rest, tok, MAX_ARGS + 8);
		if (ntok > MAX_ARGS + 8) {
			if (!failed)
				perr(file, *lineno, "expected at most %d arguments", MAX_ARGS);
			failed = 1;
			continue;
		}
		if (!strcmp(tok[0], "plan")) {
			if (in_plan && !failed) {
				perr(file, *lineno, "expected 'end' before the next 'plan'");
				failed = 1;
			}
			if (ntok != 2 || strcmp(tok[1], "1")) {
				if (!failed)
					perr(file, *lineno, "expected 'plan 1'");
				failed = 1;
			}
			in_plan = 1;
			continue;
		}
		if (!in_plan) {
			if (!failed)
				perr(file, *lineno, "expected 'plan 1'");
			failed = in_plan = 1;
		}
		if (!strcmp(tok[0], "end")) {
			if (ntok != 1 && !failed)
				failed = 1, perr(file, *lineno, "expected 'end' alone");
			if (failed) {
				plan_free(p);
				return -1;
			}
			return 1;
		}
		if (failed)
			continue;
		uint64_t v;
		if (!strcmp(tok[0], "config")) {
			failed = parse_config(tok, ntok, &p->cfg, file, *lineno) != 0;
		} else if (!strcmp(tok[0], "cr3") || !strcmp(tok[0], "l2entry")) {
			int is_cr3 = tok[0][0] == 'c';
			int *n = is_cr3 ? &p->ncr3 : &p->nl2;
			if (ntok != 2 || parse_num(tok[1], &v))
				failed = 1, perr(file, *lineno, "expected '%s <address>'", tok[0]);
			else if (*n == 64)
				failed = 1, perr(file, *lineno, "expected at most 64 %s lines", tok[0]);
			else
				(is_cr3 ? p->cr3 : p->l2entry)[(*n)++] = v;
		} else if (!strcmp(tok[0], "step")) {
			if (p->nsteps == cap) {
				cap = cap ? cap * 2 : 32;
				struct step *ns = realloc(p->steps, (size_t)cap * sizeof *ns);
				if (!ns) {
					failed = 1, perr(file, *lineno, "expected fewer steps (out of memory)");
					continue;
				}
				p->steps = ns;
			}
			failed = parse_step(tok, ntok, &p->steps[p->nsteps], file, *lineno) != 0;
			if (!failed)
				p->nsteps++;
		} else {
			failed = 1, perr(file, *lineno, "expected plan, program, config, cr3, l2entry, step or end, got '%s'", tok[0]);
		}
	}
	if (in_plan) {
		if (!failed)
			perr(file, *lineno, "expected 'end' before the end of the file");
		plan_free(p);
		return -1;
	}
	plan_free(p);
	return failed ? -1 : 0;
}
