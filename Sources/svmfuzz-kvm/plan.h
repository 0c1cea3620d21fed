/* Plan files (PLAN.md "Plan text (version 1)"): the parsed form. */
#ifndef SVMFUZZ_KVM_PLAN_H
#define SVMFUZZ_KVM_PLAN_H

#include <stdint.h>
#include <stdio.h>

enum op {
	/* guest instructions (played by the interpreters) */
	S_WRMSR, S_VMRUN, S_VMLOAD, S_VMSAVE, S_VMMCALL, S_STGI, S_CLGI, S_RSM, S_TRIPLE_FAULT,
	/* everything else */
	S_MEM, S_SMI, S_INIT, S_SIGNAL, S_RUN, S_SET_SREGS, S_SET_REGS, S_SET_MSRS, S_SET_VCPU_EVENTS,
	S_SET_NESTED_STATE, S_SNAPSHOT, S_RESTORE, S_RESET, S_DESTROY, S_NOP, S_UNSUPPORTED,
	S_COUNT
};

#define MAX_ARGS 64

struct arg {
	char key[16];
	uint64_t v;	/* the value, or the address of a GPA:VALUE / GPA:LEN pair */
	uint64_t v2;	/* the value or length of a pair */
	char text[40];	/* free text (what=, order=, slot=) */
};

struct step {
	int n, line, srcline;	/* step number, .svm line, line in the plan file */
	enum op op;
	const char *name;
	int nargs;
	struct arg args[MAX_ARGS];
};

struct config {
	int nested, npt, vgif, svm, lm, nrips, fep;	/* -1: not given */
};

struct plan {
	char program[512];
	struct config cfg;
	int ncr3, nl2;
	uint64_t cr3[64], l2entry[64];
	int nsteps;
	struct step *steps;
};

/* Reads the next `plan ... end` block of f. Returns 1 with *p filled, 0 at end of file, -1 after a
 * malformed line (reported on stderr as `file:line: expected ...`; the rest of the block is
 * skipped). */
int plan_read(FILE *f, const char *file, int *lineno, struct plan *p);
void plan_free(struct plan *p);

/* The argument `key` of s, or NULL. */
const struct arg *step_arg(const struct step *s, const char *key);

#endif
