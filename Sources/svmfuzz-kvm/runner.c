/*
 * svmfuzz-kvm: replays svmfuzz plans on a real /dev/kvm (kvm_amd, nested=1) and prints one JSON
 * record per step. The contract (plan format, guest layout, records) is PLAN.md beside this file.
 *
 *   svmfuzz-kvm [--timeout-ms N] plan-file...
 *
 * Each program gets a fresh VM with one vCPU. The guest runs small interpreters (guest.S) that
 * ring a doorbell (an OUT, i.e. KVM_EXIT_IO) before each op, so every guest instruction of the
 * plan is one KVM_RUN that ends at the doorbell of whichever level runs next.
 *
 * Build: gcc -O2 -static -o svmfuzz-kvm runner.c plan.c guest.S
 *
 * With SVMFUZZ_EMBEDDED defined this file is the engine of a reproducer that `svmfuzz export-c`
 * writes (plan.h, plan.c, guest.h, this file and guest.S in one C file): it plays one built-in plan
 * and compares each step's record with the model's expectations instead of printing JSON (the
 * section at the end of this file).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest.h"
#include "plan.h"

#define RAM_SIZE 0x100000000ull /* 0..4 GiB, one memslot */

#define MSR_EFER     0xc0000080u
#define MSR_VM_CR    0xc0010114u
#define MSR_HSAVE_PA 0xc0010117u

#define EFER_LMA (1ull << 10)
#define CR0_PE   1ull

/* The guest code blocks of guest.S. */
extern const uint8_t g_interp64_start[], g_interp64_end[];
extern const uint8_t g_stubs_start[], g_stubs_end[];
extern const uint8_t g_smm_start[], g_smm_end[];
extern const uint8_t g_reset_start[], g_reset_end[];
extern const uint8_t g_rm_start[], g_rm_stubs[], g_rm_end[];
#define BLOCK_LEN(name) ((size_t)(name##_end - name##_start))

/* ------------------------------------------------------------------------------------------ */
/* Output helpers */

static int timeout_ms = 2000;
static int kvm_fd = -1;
static int kmsg_fd = -1;
static int nested_state_max;      /* KVM_CHECK_EXTENSION(KVM_CAP_NESTED_STATE) */
static int have_triple_fault_cap; /* KVM_CAP_X86_TRIPLE_FAULT_EVENT */
static int have_payload_cap;      /* KVM_CAP_EXCEPTION_PAYLOAD: pending and injected exceptions kept apart */
static int kvm_fep = -1;          /* kvm.force_emulation_prefix (nonzero: on), -1 unknown */
static char kernel_release[128];
static char module_params[128];

struct buf {
	char s[16384];
	size_t n;
};

static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		b->n += (size_t)k < sizeof b->s - b->n ? (size_t)k : sizeof b->s - b->n - 1;
}

static void bjson_str(struct buf *b, const char *s)
{
	bprintf(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			bprintf(b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			bprintf(b, "\\u%04x", c);
		else
			bprintf(b, "%c", c);
	}
	bprintf(b, "\"");
}

/* One record = one write, so records stay whole when stdout is a serial console. */
static void bflush_line(struct buf *b)
{
	bprintf(b, "\n");
	fwrite(b->s, 1, b->n, stdout);
	fflush(stdout);
	b->n = 0;
}

static int json_output = 1; /* 0: notes as plain text lines (an exported reproducer) */

static void note(const char *fmt, ...)
{
	char msg[512];
	struct buf b = {.n = 0};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (json_output) {
		bprintf(&b, "{\"note\":");
		bjson_str(&b, msg);
		bprintf(&b, "}");
	} else {
		bprintf(&b, "note: %s", msg);
	}
	bflush_line(&b);
}

static const char *errno_name(int e, char *tmp, size_t n)
{
	switch (e) {
	case 0: return "ok";
	case EINVAL: return "einval";
	case EFAULT: return "efault";
	case E2BIG: return "e2big";
	case EIO: return "eio";
	case EBUSY: return "ebusy";
	case ENOMEM: return "enomem";
	default: snprintf(tmp, n, "e%d", e); return tmp;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Kernel warnings: /dev/kmsg read from where the program started. */

static void kmsg_start(void)
{
	if (kmsg_fd < 0)
		kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
}

/* The next kernel warning since kmsg_start (WARNING:, BUG:, general protection, Call Trace) into
 * msg; 0 when there is none. */
static int kmsg_next(char *msg, size_t n)
{
	char rec[8192];
	while (kmsg_fd >= 0) {
		ssize_t k = read(kmsg_fd, rec, sizeof rec - 1);
		if (k < 0 && errno == EPIPE)
			continue; /* records were overwritten: go on with the next one */
		if (k <= 0)
			return 0;
		rec[k] = 0;
		char *text = strchr(rec, ';');
		if (!text)
			continue;
		text++;
		text[strcspn(text, "\n")] = 0;
		if (strstr(text, "WARNING:") || strstr(text, "BUG:") || strstr(text, "general protection") ||
		    strstr(text, "Call Trace")) {
			snprintf(msg, n, "%s", text);
			return 1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* KVM_RUN under a time limit, and the `signal` op */

static volatile sig_atomic_t alarm_fired;
static void on_alarm(int sig) { (void)sig; alarm_fired = 1; }
static void on_usr1(int sig) { (void)sig; }

static void signals_init(void)
{
	/* No SA_RESTART: the handler only makes KVM_RUN return EINTR. */
	struct sigaction sa = {.sa_handler = on_alarm};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	/* SIGUSR1 stays blocked in the thread and is unblocked only inside KVM_RUN
	 * (KVM_SET_SIGNAL_MASK), so raising it makes exactly the next KVM_RUN return. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

static void drain_usr1(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	struct timespec zero = {0, 0};
	while (sigtimedwait(&set, NULL, &zero) == SIGUSR1)
		;
}

enum runres { RR_DOORBELL, RR_INTR, RR_HANG, RR_SHUTDOWN, RR_INTERNAL, RR_FAIL_ENTRY, RR_OTHER, RR_ERRNO };

struct slot {
	int valid;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint64_t efer, hsave_pa, vm_cr;
	struct kvm_vcpu_events events;
	struct kvm_nested_state *nested;
};

struct vm {
	const struct plan *plan;
	int fd, vcpu;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *mem;
	/* the model's VMM state (PLAN.md): stopped after shutdown/internal error/hang */
	int halted, stuffed_regs, stuffed_sregs;
	int in_run;     /* the guest is "running" (the last guest op ended at a doorbell) */
	int sig_pending;
	int fep;        /* the plan's config fep=1: its `emulate` steps need kvm.force_emulation_prefix */
	int run_errno;  /* errno of the last KVM_RUN that failed */
	int exit_code;  /* exit_reason of the last RR_OTHER */
	char last_ioctl[16];
	int rm_pos;         /* the 16-bit interpreter's IN sequence: op, ecx, edx, eax */
	uint32_t rm_vals[4];
	int have_vmrun;
	uint64_t last_vmrun_gpa;
	int nl2;
	uint64_t l2start[64], l2end[64];
	struct slot slots[4];
};

/* Guest memory (little-endian host and guest). */
static void w64(struct vm *vm, uint64_t gpa, uint64_t v) { memcpy(vm->mem + gpa, &v, 8); }
static uint64_t r64(struct vm *vm, uint64_t gpa) { uint64_t v; memcpy(&v, vm->mem + gpa, 8); return v; }
static void w32(struct vm *vm, uint64_t gpa, uint32_t v) { memcpy(vm->mem + gpa, &v, 4); }
static uint32_t r32(struct vm *vm, uint64_t gpa) { uint32_t v; memcpy(&v, vm->mem + gpa, 4); return v; }

static void set_last_ioctl(struct vm *vm, int r, int e)
{
	char tmp[16];
	snprintf(vm->last_ioctl, sizeof vm->last_ioctl, "%s", r < 0 ? errno_name(e, tmp, sizeof tmp) : "ok");
}

/* The 16-bit interpreter reads the op, then its operands, with IN from RM_DATA_PORT. Taking the
 * op clears it in the mailbox, as the other interpreters do. */
static uint32_t rm_next(struct vm *vm)
{
	if (vm->rm_pos == 0) {
		uint32_t op = r32(vm, MB_OP);
		if (op == OP_NOP)
			return 0;
		vm->rm_vals[0] = op;
		vm->rm_vals[1] = (uint32_t)r64(vm, MB_RCX);
		vm->rm_vals[2] = (uint32_t)r64(vm, MB_RDX);
		vm->rm_vals[3] = (uint32_t)r64(vm, MB_RAX);
		w32(vm, MB_OP, OP_NOP);
	}
	uint32_t v = vm->rm_vals[vm->rm_pos];
	vm->rm_pos = (vm->rm_pos + 1) % 4;
	return v;
}

/* Exits of the real-mode helpers that are not the end of a KVM_RUN for the plan: answer them and
 * go on. Returns 1 if handled. */
static int rm_helper_exit(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	if (run->exit_reason != KVM_EXIT_IO || run->io.count != 1)
		return 0;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	if (run->io.port == RM_DATA_PORT && run->io.direction == KVM_EXIT_IO_IN && run->io.size == 4) {
		uint32_t v = rm_next(vm);
		memcpy(data, &v, 4);
		return 1;
	}
	if (run->io.port == RM_EXC_PORT && run->io.direction == KVM_EXIT_IO_OUT) {
		w32(vm, MB_EXC, data[0]);
		return 1;
	}
	return 0;
}

static enum runres vcpu_run(struct vm *vm)
{
	int sig = vm->sig_pending;
	if (sig)
		syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR1);
	struct itimerval it = {.it_value = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000}};
	alarm_fired = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	int r, e, helper = 0;
	/* The time limit covers the 16-bit interpreter's helper exits too: a guest that faults in a loop
	 * there keeps KVM_RUN returning, and the alarm may fire between two KVM_RUNs. */
	do {
		r = ioctl(vm->vcpu, KVM_RUN, 0);
		e = errno;
	} while (r == 0 && (helper = rm_helper_exit(vm)) && !alarm_fired);
	int helper_hang = r == 0 && helper && alarm_fired;
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	if (sig) {
		drain_usr1();
		vm->sig_pending = 0;
	}
	if (helper_hang)
		return RR_HANG;
	if (r < 0) {
		if (e == EINTR)
			return alarm_fired && !sig ? RR_HANG : RR_INTR;
		vm->run_errno = e;
		return RR_ERRNO;
	}
	switch (vm->run->exit_reason) {
	case KVM_EXIT_IO:
		if (vm->run->io.port == DOORBELL_PORT && vm->run->io.direction == KVM_EXIT_IO_OUT)
			return RR_DOORBELL;
		break;
	case KVM_EXIT_SHUTDOWN: return RR_SHUTDOWN;
	case KVM_EXIT_INTERNAL_ERROR: return RR_INTERNAL;
	case KVM_EXIT_FAIL_ENTRY: return RR_FAIL_ENTRY;
	case KVM_EXIT_INTR: return RR_INTR;
	}
	vm->exit_code = (int)vm->run->exit_reason;
	return RR_OTHER;
}

/* KVM finishes an OUT/IN/MMIO only at the next KVM_RUN (it skips the instruction then). Do it now
 * with immediate_exit, as the KVM API asks before userspace reads or writes the state: otherwise
 * a later restore or set_regs would get the stale skip applied to the new RIP. */
static void complete_io(struct vm *vm)
{
	uint32_t reason = vm->run->exit_reason;
	if (reason != KVM_EXIT_IO && reason != KVM_EXIT_MMIO)
		return;
	vm->run->immediate_exit = 1;
	ioctl(vm->vcpu, KVM_RUN, 0); /* -EINTR once the pending I/O is complete */
	vm->run->immediate_exit = 0;
}

static const char *runres_name(struct vm *vm, enum runres r, char *tmp, size_t n)
{
	switch (r) {
	case RR_DOORBELL: return "none";
	case RR_INTR: return "intr";
	case RR_HANG: return "hang";
	case RR_SHUTDOWN: return "shutdown";
	case RR_INTERNAL: return "internal_error";
	case RR_FAIL_ENTRY: return "fail_entry";
	case RR_ERRNO: return "none";
	case RR_OTHER: snprintf(tmp, n, "other:%d", vm->exit_code); return tmp;
	}
	return "?";
}

/* ------------------------------------------------------------------------------------------ */
/* The VM and the guest environment */


static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Addresses the runner owns outside 0x600000-0x7fffff. */
static int runner_area(uint64_t a, uint64_t len)
{
	return overlaps(a, len, GPA_RESERVED_LO, GPA_RESERVED_HI - GPA_RESERVED_LO) ||
	       overlaps(a, len, GPA_SMM_ENTRY, BLOCK_LEN(g_smm)) ||
	       overlaps(a, len, GPA_RESET_VEC, 16) || overlaps(a, len, GPA_PML4_L1, 8) ||
	       overlaps(a, len, GPA_IVT, 0x400) || overlaps(a, len, RM_SEG_BASE + RM_IP, BLOCK_LEN(g_rm)) ||
	       overlaps(a, len, 0xffff0000ull + RM_IP, BLOCK_LEN(g_rm)) ||
	       a >= RAM_SIZE || len > RAM_SIZE - a;
}

static void gdt_entry(struct vm *vm, int sel, uint64_t v) { w64(vm, GPA_GDT + (uint64_t)sel, v); }

static void setup_tables(struct vm *vm)
{
	/* GDT: 0x08 64-bit code, 0x10 data, 0x18 32-bit code, 0x20 64-bit TSS (16 bytes). */
	gdt_entry(vm, 0x08, 0x00af9b000000ffffull);
	gdt_entry(vm, 0x10, 0x00cf93000000ffffull);
	gdt_entry(vm, 0x18, 0x00cf9b000000ffffull);
	uint64_t tss = GPA_TSS, lim = 0x67;
	gdt_entry(vm, 0x20, (lim & 0xffff) | ((tss & 0xffffff) << 16) | (0x89ull << 40) | (((tss >> 24) & 0xff) << 56));
	gdt_entry(vm, 0x28, tss >> 32);

	/* IDT: 256 interrupt gates (type 0xe, present) to the stubs, selector 0x08. */
	for (uint64_t v = 0; v < 256; v++) {
		uint64_t h = GPA_STUBS + v * STUB_SIZE;
		w64(vm, GPA_IDT + v * 16, (h & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | (((h >> 16) & 0xffff) << 48));
		w64(vm, GPA_IDT + v * 16 + 8, h >> 32);
	}
	memcpy(vm->mem + GPA_STUBS, g_stubs_start, BLOCK_LEN(g_stubs));

	/* Identity map of 0..4 GiB with 2 MiB pages: PDPT -> 4 PDs. P|RW|US everywhere, so the same
	 * tables also serve as nested page tables (NPT walks are user accesses). */
	for (uint64_t i = 0; i < 4; i++) {
		w64(vm, GPA_PDPT + i * 8, (GPA_PD + i * 0x1000) | 7);
		for (uint64_t j = 0; j < 512; j++)
			w64(vm, GPA_PD + i * 0x1000 + j * 8, ((i << 30) | (j << 21)) | 0x87);
	}
	w64(vm, GPA_PML4_L1, GPA_PDPT | 7);

	memcpy(vm->mem + GPA_INTERP64, g_interp64_start, BLOCK_LEN(g_interp64));
	memcpy(vm->mem + GPA_SMM_MASTER, g_smm_start, BLOCK_LEN(g_smm));
	memcpy(vm->mem + GPA_SMM_ENTRY, g_smm_start, BLOCK_LEN(g_smm));
	memcpy(vm->mem + GPA_RESET_VEC, g_reset_start, BLOCK_LEN(g_reset));

	/* Real mode (after reset/INIT): the 16-bit interpreter in the reset segment and in segment
	 * 0xf000, and an IVT whose vectors all go to its exception stubs. */
	memcpy(vm->mem + 0xffff0000ull + RM_IP, g_rm_start, BLOCK_LEN(g_rm));
	memcpy(vm->mem + RM_SEG_BASE + RM_IP, g_rm_start, BLOCK_LEN(g_rm));
	for (uint32_t v = 0; v < 256; v++)
		w32(vm, GPA_IVT + 4 * v, (0xf000u << 16) | (uint32_t)(RM_IP + (g_rm_stubs - g_rm_start) + 8 * v));
	w32(vm, MB_EXC, ~0u);
}

/* PML4 copies at each `cr3` line and interpreter copies at each `l2entry` line. */
static void place_copies(struct vm *vm, const struct plan *p)
{
	for (int i = 0; i < p->ncr3; i++) {
		uint64_t a = p->cr3[i] & 0x000ffffffffff000ull;
		/* Only entry 0 matters (RAM is below 512 GiB): the rest of the page stays the program's. */
		if (runner_area(a, 8) && a != GPA_PML4_L1) {
			note("cr3 0x%llx: not placed (overlaps the runner's area or is outside RAM)", (unsigned long long)p->cr3[i]);
			continue;
		}
		w64(vm, a, GPA_PDPT | 7);
	}
	size_t len = BLOCK_LEN(g_interp64);
	uint64_t *table = (uint64_t *)(vm->mem + MB_TABLE);
	table[0] = 1;
	table[1] = GPA_INTERP64;
	table[2] = GPA_INTERP64 + len;
	vm->nl2 = 0;
	for (int i = 0; i < p->nl2; i++) {
		uint64_t a = p->l2entry[i];
		int clash = runner_area(a, len);
		for (int j = 0; j < p->ncr3 && !clash; j++)
			clash = overlaps(a, len, p->cr3[j] & 0x000ffffffffff000ull, 8);
		for (int j = 0; j < vm->nl2 && !clash; j++)
			clash = overlaps(a, len, vm->l2start[j], len) && a != vm->l2start[j];
		if (clash) {
			note("l2entry 0x%llx: not placed (overlaps the runner's area, a cr3 page entry or another copy)",
			     (unsigned long long)a);
			continue;
		}
		memcpy(vm->mem + a, g_interp64_start, len);
		vm->l2start[vm->nl2] = a;
		vm->l2end[vm->nl2] = a + len;
		vm->nl2++;
		if (vm->nl2 < MB_TABLE_MAX) {
			table[0]++;
			table[2 * table[0] - 1] = a;
			table[2 * table[0]] = a + len;
		}
	}
}

static void seg(struct kvm_segment *s, uint16_t sel, uint64_t base, uint32_t limit, uint8_t type, int sys,
		int l, int db, int g)
{
	*s = (struct kvm_segment){.base = base, .limit = limit, .selector = sel, .type = type, .present = 1,
				  .s = (uint8_t)sys, .l = (uint8_t)l, .db = (uint8_t)db, .g = (uint8_t)g};
}

/* The model's initial L1 state (PLAN.md). */
static int set_initial_state(struct vm *vm)
{
	struct kvm_sregs s;
	if (ioctl(vm->vcpu, KVM_GET_SREGS, &s) < 0)
		return -1;
	seg(&s.cs, 0x08, 0, 0xffffffff, 0xb, 1, 1, 0, 1);
	seg(&s.ds, 0x10, 0, 0xffffffff, 0x3, 1, 0, 1, 1);
	s.es = s.ss = s.fs = s.gs = s.ds;
	seg(&s.tr, 0x20, GPA_TSS, 0x67, 0xb, 0, 0, 0, 0);
	s.ldt = (struct kvm_segment){.type = 2, .unusable = 1};
	s.gdt.base = GPA_GDT;
	s.gdt.limit = 0x2f;
	s.idt.base = GPA_IDT;
	s.idt.limit = 256 * 16 - 1;
	s.efer = 0xd01;
	s.cr0 = 0x80050033;
	s.cr3 = GPA_PML4_L1;
	s.cr4 = 0x20;
	if (ioctl(vm->vcpu, KVM_SET_SREGS, &s) < 0)
		return -1;
	struct kvm_regs r = {.rip = GPA_INTERP64, .rsp = 0x8000, .rflags = 2};
	return ioctl(vm->vcpu, KVM_SET_REGS, &r);
}

/* An INIT sent with KVM_SIGNAL_MSI is accepted by a software-enabled xAPIC (the reset SVR has the
 * enable bit clear). */
static void lapic_enable(struct vm *vm)
{
	struct kvm_lapic_state l;
	if (ioctl(vm->vcpu, KVM_GET_LAPIC, &l) < 0)
		return;
	uint32_t svr;
	memcpy(&svr, l.regs + 0xf0, 4);
	svr |= 0x1ff;
	memcpy(l.regs + 0xf0, &svr, 4);
	ioctl(vm->vcpu, KVM_SET_LAPIC, &l);
}

/* KVM_GET_SUPPORTED_CPUID with the plan's svm/lm/nrips bits cleared when 0. */
static int set_cpuid(struct vm *vm, const struct config *c)
{
	int n = 64;
	struct kvm_cpuid2 *cp = NULL;
	for (;;) {
		free(cp);
		cp = calloc(1, sizeof *cp + (size_t)n * sizeof(struct kvm_cpuid_entry2));
		cp->nent = (uint32_t)n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cp) == 0)
			break;
		if (errno != E2BIG || n > 4096) {
			free(cp);
			return -1;
		}
		n *= 2;
	}
	for (uint32_t i = 0; i < cp->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cp->entries[i];
		if (e->function == 0x80000001) {
			if (c->svm == 0)
				e->ecx &= ~(1u << 2);
			if (c->lm == 0)
				e->edx &= ~(1u << 29);
			if (c->svm == 1 && !(e->ecx & (1u << 2)))
				note("config svm=1: KVM does not offer SVM in CPUID");
		}
		if (e->function == 0x8000000a) {
			if (c->nrips == 0)
				e->edx &= ~(1u << 3);
			if (c->nrips == 1 && !(e->edx & (1u << 3)))
				note("config nrips=1: KVM does not offer NRIPS to the guest (CPUID 0x8000000a edx=0x%x)", e->edx);
		}
	}
	int r = ioctl(vm->vcpu, KVM_SET_CPUID2, cp);
	free(cp);
	return r;
}

/* Closes the VM and its vCPU: KVM destroys the vCPU with the VM (kvm_destroy_vcpus ->
 * kvm_arch_vcpu_destroy). Guest memory, the snapshot slots and the plan stay. */
static void vm_close(struct vm *vm)
{
	if (vm->run)
		munmap(vm->run, vm->run_size);
	if (vm->vcpu >= 0)
		close(vm->vcpu);
	if (vm->fd >= 0)
		close(vm->fd);
	vm->run = NULL;
	vm->fd = vm->vcpu = -1;
}

static void vm_destroy(struct vm *vm)
{
	for (int i = 0; i < 4; i++)
		free(vm->slots[i].nested);
	vm_close(vm);
	if (vm->mem && vm->mem != MAP_FAILED)
		munmap(vm->mem, RAM_SIZE);
	memset(vm, 0, sizeof *vm);
	vm->fd = vm->vcpu = -1;
}

/* A VM over vm->mem with one vCPU, as QEMU would create it (in-kernel irqchip, the capabilities QEMU
 * enables, RAM in both address spaces, CPUID, an enabled LAPIC); with `initial`, the program's initial
 * L1 state put. Returns a message on failure. */
static const char *vm_open(struct vm *vm, int initial)
{
	const struct plan *p = vm->plan;
	vm->fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		return "KVM_CREATE_VM failed";
	/* In-kernel irqchip: INIT can then be delivered with KVM_SIGNAL_MSI. */
	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return "KVM_CREATE_IRQCHIP failed";
	if (have_triple_fault_cap) { /* QEMU enables it: VCPU_EVENTS then carries triple_fault */
		struct kvm_enable_cap cap = {.cap = KVM_CAP_X86_TRIPLE_FAULT_EVENT, .args = {1}};
		if (ioctl(vm->fd, KVM_ENABLE_CAP, &cap) < 0)
			have_triple_fault_cap = 0;
	}
	if (have_payload_cap) { /* QEMU enables it: VCPU_EVENTS then keeps pending and injected apart */
		struct kvm_enable_cap cap = {.cap = KVM_CAP_EXCEPTION_PAYLOAD, .args = {1}};
		if (ioctl(vm->fd, KVM_ENABLE_CAP, &cap) < 0)
			have_payload_cap = 0;
	}
	struct kvm_userspace_memory_region reg = {.slot = 0, .memory_size = RAM_SIZE, .userspace_addr = (uint64_t)vm->mem};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &reg) < 0)
		return "KVM_SET_USER_MEMORY_REGION failed";
	/* The same RAM in the SMM address space, as QEMU does: without it SMM sees no memory and
	 * the first SMM fetch is KVM_EXIT_INTERNAL_ERROR. */
	reg.slot = (1u << 16) | 0;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &reg) < 0)
		return "KVM_SET_USER_MEMORY_REGION (SMM address space) failed";
	vm->vcpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu < 0)
		return "KVM_CREATE_VCPU failed";
	vm->run_size = (size_t)ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu, 0);
	if (vm->run == MAP_FAILED) {
		vm->run = NULL;
		return "mmap of kvm_run failed";
	}
	/* Inside KVM_RUN nothing is blocked, so a raised SIGUSR1 (the `signal` op) and SIGALRM (the
	 * time limit) both end it. */
	struct {
		struct kvm_signal_mask m;
		uint8_t set[8];
	} mask = {{.len = 8}, {0}};
	if (ioctl(vm->vcpu, KVM_SET_SIGNAL_MASK, &mask) < 0)
		return "KVM_SET_SIGNAL_MASK failed";
	if (set_cpuid(vm, &p->cfg) < 0)
		return "KVM_SET_CPUID2 failed";
	lapic_enable(vm);
	if (initial && set_initial_state(vm) < 0)
		note("the initial L1 state was refused by KVM_SET_SREGS/REGS (errno %d): the vCPU keeps KVM's reset state", errno);
	return NULL;
}

/* A fresh VM as QEMU would create it; returns a message on failure. */
static const char *vm_create(struct vm *vm, const struct plan *p)
{
	memset(vm, 0, sizeof *vm);
	vm->fd = vm->vcpu = -1;
	vm->plan = p;
	vm->fep = p->cfg.fep > 0;
	strcpy(vm->last_ioctl, "ok");
	vm->mem = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED)
		return "mmap of 4 GiB failed";
	setup_tables(vm);
	place_copies(vm, p);
	return vm_open(vm, 1);
}

/* The VMM goes on with a new VM and vCPU over the same guest memory (after `destroy`, or as the
 * migration target of `restore fresh=1`): a vCPU thread that was never stopped, no signal pending. */
static void vm_reset_vmm_state(struct vm *vm)
{
	vm->halted = vm->stuffed_regs = vm->stuffed_sregs = 0;
	vm->in_run = 0;
	vm->sig_pending = 0;
	drain_usr1();
}

/* ------------------------------------------------------------------------------------------ */
/* State after each step */

struct state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint64_t efer, hsave_pa, vm_cr;
	struct kvm_vcpu_events events;
	int nested_ok;
	uint32_t nested_flags;
	uint64_t vmcb_pa;
};

static int get_msrs(struct vm *vm, uint64_t *efer, uint64_t *hsave, uint64_t *vmcr)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[3];
	} m = {{.nmsrs = 3}, {{.index = MSR_EFER}, {.index = MSR_HSAVE_PA}, {.index = MSR_VM_CR}}};
	int r = ioctl(vm->vcpu, KVM_GET_MSRS, &m);
	*efer = m.e[0].data;
	*hsave = m.e[1].data;
	*vmcr = m.e[2].data;
	if (r >= 0 && r != 3) {
		errno = EINVAL;
		return -1;
	}
	return r < 0 ? -1 : 0;
}

static struct kvm_nested_state *nested_alloc(void)
{
	struct kvm_nested_state *ns = calloc(1, (size_t)nested_state_max);
	return ns;
}

static int get_nested(struct vm *vm, struct kvm_nested_state *ns)
{
	memset(ns, 0, (size_t)nested_state_max);
	ns->size = (uint32_t)nested_state_max;
	return ioctl(vm->vcpu, KVM_GET_NESTED_STATE, ns);
}

static void read_state(struct vm *vm, struct state *st)
{
	static struct kvm_nested_state *ns;
	memset(st, 0, sizeof *st);
	ioctl(vm->vcpu, KVM_GET_REGS, &st->regs);
	ioctl(vm->vcpu, KVM_GET_SREGS, &st->sregs);
	get_msrs(vm, &st->efer, &st->hsave_pa, &st->vm_cr);
	ioctl(vm->vcpu, KVM_GET_VCPU_EVENTS, &st->events);
	if (!ns)
		ns = nested_alloc();
	st->nested_ok = nested_state_max > 0 && get_nested(vm, ns) == 0;
	if (st->nested_ok) {
		st->nested_flags = ns->flags;
		st->vmcb_pa = ns->hdr.svm.vmcb_pa;
	}
}

enum level { LV_L1, LV_L2, LV_SMM };

static enum level level_of(const struct state *st)
{
	if (st->events.smi.smm)
		return LV_SMM;
	return (st->nested_flags & KVM_STATE_NESTED_GUEST_MODE) ? LV_L2 : LV_L1;
}

static const char *level_name(enum level l) { return l == LV_SMM ? "smm" : l == LV_L2 ? "l2" : "l1"; }

static const char *rip_owner(struct vm *vm, const struct state *st)
{
	int flat64 = (st->sregs.efer & EFER_LMA) && st->sregs.cs.l;
	uint64_t lin = flat64 ? st->regs.rip : st->sregs.cs.base + st->regs.rip;
	if (lin >= GPA_INTERP64 && lin < GPA_INTERP64 + BLOCK_LEN(g_interp64))
		return "l1";
	for (int i = 0; i < vm->nl2; i++)
		if (lin >= vm->l2start[i] && lin < vm->l2end[i])
			return "l2";
	if (lin >= GPA_SMM_ENTRY && lin < GPA_SMM_ENTRY + BLOCK_LEN(g_smm))
		return "smm";
	if (lin >= GPA_STUBS && lin < GPA_INTERP64)
		return "stub";
	return "other";
}

/* One step's record (PLAN.md "Step records"): printed as a JSON line, or compared with the model's
 * expectations in an exported reproducer. */
struct record {
	/* what the step did, set while it runs */
	const char *ran;
	char exit[24];
	int exc;
	/* the step and the state after it (record_state) */
	int step, line;
	enum op kind;
	int doors; /* a `run` with immediate_exit or sync blocks: KVM_RUN's result is compared too */
	const char *op, *mode, *rip_owner;
	char ioctl[16];
	int gif, run_pending, smm, triple_fault, smi_pending, latched_init, have_vmcb12_exit;
	uint64_t rip, rsp, rax, rflags, efer, cr0, cr3, cr4, hsave_pa, vm_cr, vmcb_pa, vmcb12_exit;
	uint32_t nested_flags;
};

static void record_state(struct vm *vm, const struct step *s, struct record *rec)
{
	struct state st;
	read_state(vm, &st);
	rec->step = s->n;
	rec->line = s->line;
	rec->kind = s->op;
	rec->doors = s->op == S_RUN && s->nargs > 0;
	rec->op = s->name;
	snprintf(rec->ioctl, sizeof rec->ioctl, "%s", vm->last_ioctl);
	rec->mode = st.nested_ok || st.events.smi.smm ? level_name(level_of(&st)) : "?";
	rec->gif = st.nested_ok ? !!(st.nested_flags & KVM_STATE_NESTED_GIF_SET) : -1;
	rec->run_pending = st.nested_ok ? !!(st.nested_flags & KVM_STATE_NESTED_RUN_PENDING) : -1;
	rec->smm = st.events.smi.smm;
	rec->rip = st.regs.rip;
	rec->rip_owner = rip_owner(vm, &st);
	rec->rsp = st.regs.rsp;
	rec->rax = st.regs.rax;
	rec->rflags = st.regs.rflags;
	rec->efer = st.sregs.efer;
	rec->cr0 = st.sregs.cr0;
	rec->cr3 = st.sregs.cr3;
	rec->cr4 = st.sregs.cr4;
	rec->hsave_pa = st.hsave_pa;
	rec->vm_cr = st.vm_cr;
	rec->nested_flags = st.nested_flags;
	rec->vmcb_pa = st.vmcb_pa;
	rec->triple_fault = st.events.triple_fault.pending;
	rec->smi_pending = st.events.smi.pending;
	rec->latched_init = st.events.smi.latched_init;
	rec->have_vmcb12_exit = vm->have_vmrun && vm->last_vmrun_gpa <= RAM_SIZE - 0x78;
	if (rec->have_vmcb12_exit)
		rec->vmcb12_exit = r64(vm, vm->last_vmrun_gpa + 0x70);
}

/* The record's fields in JSON order; `quoted`: a JSON string. */
static const struct {
	const char *name;
	int quoted;
} record_fields[] = {
	{"step", 0}, {"line", 0}, {"op", 1}, {"ran", 1}, {"exit", 1}, {"ioctl", 1}, {"exc", 0}, {"mode", 1},
	{"gif", 0}, {"run_pending", 0}, {"smm", 0}, {"rip", 1}, {"rip_owner", 1}, {"rsp", 1}, {"rax", 1},
	{"rflags", 1}, {"efer", 1}, {"cr0", 1}, {"cr3", 1}, {"cr4", 1}, {"hsave_pa", 1}, {"vm_cr", 1},
	{"nested_flags", 1}, {"vmcb_pa", 1}, {"triple_fault", 0}, {"smi_pending", 0}, {"latched_init", 0},
	{"vmcb12_exit", 1},
};

/* The value of the record's field `name` as the JSON record has it (without quotes), or NULL. */
static const char *record_value(const struct record *r, const char *name, char *tmp, size_t n)
{
#define TEXT(f) if (!strcmp(name, #f)) return r->f
#define DEC(f) if (!strcmp(name, #f)) return snprintf(tmp, n, "%d", r->f), tmp
#define HEX(f) if (!strcmp(name, #f)) return snprintf(tmp, n, "0x%llx", (unsigned long long)r->f), tmp
	TEXT(op); TEXT(ran); TEXT(exit); TEXT(ioctl); TEXT(mode); TEXT(rip_owner);
	DEC(step); DEC(line); DEC(exc); DEC(gif); DEC(run_pending); DEC(smm);
	DEC(triple_fault); DEC(smi_pending); DEC(latched_init);
	HEX(rip); HEX(rsp); HEX(rax); HEX(rflags); HEX(efer); HEX(cr0); HEX(cr3); HEX(cr4);
	HEX(hsave_pa); HEX(vm_cr); HEX(nested_flags); HEX(vmcb_pa);
#undef TEXT
#undef DEC
#undef HEX
	if (!strcmp(name, "vmcb12_exit")) {
		if (!r->have_vmcb12_exit)
			return "-";
		snprintf(tmp, n, "0x%llx", (unsigned long long)r->vmcb12_exit);
		return tmp;
	}
	return NULL;
}

static void print_record(const struct record *r)
{
	struct buf b = {.n = 0};
	char tmp[32];
	for (size_t i = 0; i < sizeof record_fields / sizeof record_fields[0]; i++) {
		const char *v = record_value(r, record_fields[i].name, tmp, sizeof tmp);
		bprintf(&b, "%s\"%s\":", i ? "," : "{", record_fields[i].name);
		if (record_fields[i].quoted)
			bjson_str(&b, v);
		else
			bprintf(&b, "%s", v);
	}
	bprintf(&b, "}");
	bflush_line(&b);
}

/* Where each step's record goes: printed (svmfuzz-kvm) or compared (an exported reproducer). */
static void (*record_sink)(const struct record *);

/* ------------------------------------------------------------------------------------------ */
/* Steps */

static const int guest_op_code[] = {
	[S_WRMSR] = OP_WRMSR, [S_VMRUN] = OP_VMRUN, [S_VMLOAD] = OP_VMLOAD, [S_VMSAVE] = OP_VMSAVE,
	[S_VMMCALL] = OP_VMMCALL, [S_STGI] = OP_STGI, [S_CLGI] = OP_CLGI, [S_RSM] = OP_RSM,
	[S_TRIPLE_FAULT] = OP_TRIPLE_FAULT,
};

/* The same steps with `emulate=1`: behind KVM's forced-emulation prefix (0: none). */
static const int fep_op_code[] = {
	[S_WRMSR] = OP_WRMSR_FEP, [S_VMRUN] = OP_VMRUN_FEP, [S_VMLOAD] = OP_VMLOAD_FEP,
	[S_VMSAVE] = OP_VMSAVE_FEP, [S_VMMCALL] = OP_VMMCALL_FEP, [S_STGI] = OP_STGI_FEP,
	[S_CLGI] = OP_CLGI_FEP, [S_RSM] = OP_RSM_FEP, [S_TRIPLE_FAULT] = 0,
};

/* Whether an interpreter can play op where the vCPU is: the SMM interpreter plays rsm and wrmsr;
 * outside SMM the 64-bit interpreters need a 64-bit code segment and the 16-bit one (real mode
 * after reset/INIT) a 16-bit one; there is none for 32-bit code. */
static int can_play(const struct state *st, int op)
{
	if (op >= OP_WRMSR_FEP) /* only the 64-bit interpreter has the prefixed ones */
		return !st->events.smi.smm && (st->sregs.efer & EFER_LMA) && st->sregs.cs.l;
	if (st->events.smi.smm)
		return op == OP_RSM || op == OP_WRMSR || op == OP_NOP;
	if ((st->sregs.efer & EFER_LMA) && st->sregs.cs.l)
		return 1;
	return !st->sregs.cs.db && !st->sregs.cs.l;
}

/* A run that did not end at a doorbell stops the vCPU (the model's VMM semantics). */
static void stop_if_needed(struct vm *vm, enum runres r)
{
	if (r != RR_DOORBELL && r != RR_INTR) {
		vm->halted = 1;
		vm->stuffed_regs = vm->stuffed_sregs = 0;
		vm->in_run = 0;
	}
}

static void record_run(struct vm *vm, struct record *rec, enum runres r)
{
	char tmp[24];
	snprintf(rec->exit, sizeof rec->exit, "%s", runres_name(vm, r, tmp, sizeof tmp));
	if (r == RR_ERRNO)
		set_last_ioctl(vm, -1, vm->run_errno);
	else
		strcpy(vm->last_ioctl, "ok");
}

/* After a #VMEXIT for an intercepted instruction, vmcb12.rip still points at that instruction in
 * L2's interpreter (L1 here has no NRIPS to skip it): VMRUN of the same vmcb12 would run it again
 * at once. Like an L1 hypervisor that skips the instruction, move it back to the start of the
 * copy's loop, so L2 resumes at its doorbell. (The model keeps RIP abstract.) */
static void resume_l2_at_loop(struct vm *vm, uint64_t vmcb12)
{
	if (vmcb12 > RAM_SIZE - 0x1000)
		return;
	uint64_t rip = r64(vm, vmcb12 + 0x578);
	for (int i = 0; i < vm->nl2; i++)
		if (rip > vm->l2start[i] && rip < vm->l2end[i])
			w64(vm, vmcb12 + 0x578, vm->l2start[i]);
}

static void guest_op(struct vm *vm, const struct step *s, struct record *rec)
{
	if (vm->halted) {
		rec->ran = "skipped";
		return;
	}
	int op = guest_op_code[s->op];
	const struct arg *em = step_arg(s, "emulate");
	if (em && em->v) {
		/* Behind the forced-emulation prefix: playable only if KVM's parameter is what the plan says. */
		if (kvm_fep < 0 || !!kvm_fep != vm->fep) {
			rec->ran = "unsupported";
			return;
		}
		op = fep_op_code[s->op];
		if (!op) {
			rec->ran = "unsupported";
			return;
		}
	}
	uint64_t rax = 0, rcx = 0, rdx = 0;
	if (s->op == S_WRMSR) {
		rcx = step_arg(s, "msr")->v;
		uint64_t v = step_arg(s, "value")->v;
		rax = (uint32_t)v;
		rdx = v >> 32;
	} else if (s->op == S_VMRUN || s->op == S_VMLOAD || s->op == S_VMSAVE) {
		rax = step_arg(s, "gpa")->v;
	}
	struct state st;
	read_state(vm, &st);
	if (!can_play(&st, op)) {
		rec->ran = "unsupported";
		return;
	}
	if (op == OP_VMRUN && level_of(&st) == LV_L1)
		resume_l2_at_loop(vm, rax);
	w64(vm, MB_RAX, rax);
	w64(vm, MB_RCX, rcx);
	w64(vm, MB_RDX, rdx);
	w32(vm, MB_UNSUP, 0);
	w32(vm, MB_OP, (uint32_t)op);
	vm->rm_pos = 0;
	rec->ran = "unsupported";
	int got_intr = 0;
	/* A few rounds: the vCPU may first reach a doorbell without taking the op (the first run of a
	 * program starts at one; an SMI or INIT delivered at entry switches to a level that rings
	 * first; a `signal` ends the first KVM_RUN before it enters). */
	for (int round = 0; round < 6; round++) {
		if (round > 0) {
			read_state(vm, &st);
			if (!can_play(&st, op))
				break;
		}
		enum level lv = level_of(&st);
		enum runres r = vcpu_run(vm);
		record_run(vm, rec, r);
		if (r == RR_INTR) {
			got_intr = 1;
			continue;
		}
		if (r == RR_DOORBELL) {
			complete_io(vm);
			if (r32(vm, MB_OP) == OP_NOP) {
				rec->ran = level_name(lv);
				if (op == OP_VMRUN && lv == LV_L1) {
					vm->have_vmrun = 1;
					vm->last_vmrun_gpa = rax;
				}
				vm->in_run = 1;
				break;
			}
			if (r32(vm, MB_UNSUP))
				break;
			continue;
		}
		/* shutdown, internal error, failed entry, hang, another exit, or an ioctl error */
		if (r32(vm, MB_OP) == OP_NOP) {
			rec->ran = level_name(lv);
			if (op == OP_VMRUN && lv == LV_L1) {
				vm->have_vmrun = 1;
				vm->last_vmrun_gpa = rax;
			}
		}
		if (r == RR_OTHER)
			complete_io(vm);
		stop_if_needed(vm, r);
		if (r == RR_ERRNO)
			vm->in_run = 0;
		got_intr = 0;
		break;
	}
	w32(vm, MB_OP, OP_NOP); /* an op not taken must not run later */
	if (got_intr)
		strcpy(rec->exit, "intr");
}

/* One KVM_RUN with nothing to do (`run`, and the kick after `smi`/`init`). */
static enum runres nop_run(struct vm *vm, struct record *rec)
{
	w32(vm, MB_OP, OP_NOP);
	enum runres r = vcpu_run(vm);
	record_run(vm, rec, r);
	if (r == RR_DOORBELL || r == RR_OTHER)
		complete_io(vm);
	stop_if_needed(vm, r);
	return r;
}

static void op_run(struct vm *vm, struct record *rec)
{
	if (vm->halted) {
		rec->ran = "skipped";
		return;
	}
	struct state st;
	read_state(vm, &st);
	rec->ran = level_name(level_of(&st));
	enum runres r = nop_run(vm, rec);
	if (r == RR_DOORBELL) /* entered, then back in userspace: the model's `run` */
		strcpy(rec->exit, "intr");
	vm->in_run = 0;
}

/* An SMI or INIT interrupts a running guest; KVM services it before re-entering (the model's
 * kick). Here the guest waits at a doorbell, so one KVM_RUN plays that re-entry. */
static void kick(struct vm *vm, struct record *rec)
{
	if (!vm->in_run || vm->halted)
		return;
	enum runres r = nop_run(vm, rec);
	if (r != RR_DOORBELL)
		vm->in_run = 0;
}

static void op_smi(struct vm *vm, struct record *rec)
{
	int r = ioctl(vm->vcpu, KVM_SMI, 0);
	set_last_ioctl(vm, r, errno);
	if (r == 0)
		kick(vm, rec);
}

static void op_init(struct vm *vm, struct record *rec)
{
	/* Fixed destination APIC 0, delivery mode INIT (5), level assert. */
	struct kvm_msi msi = {.address_lo = 0xfee00000, .address_hi = 0, .data = (5u << 8) | (1u << 14)};
	int r = ioctl(vm->fd, KVM_SIGNAL_MSI, &msi);
	set_last_ioctl(vm, r, errno);
	if (r >= 0)
		kick(vm, rec);
}

static void op_mem(struct vm *vm, const struct step *s)
{
	for (int i = 0; i < s->nargs; i++) {
		const struct arg *a = &s->args[i];
		if (!strcmp(a->key, "zero")) {
			memset(vm->mem + a->v, 0, a->v2);
		} else {
			int size = atoi(a->key + 1) / 8;
			uint64_t v = a->v2; /* little-endian host and guest */
			memcpy(vm->mem + a->v, &v, (size_t)size);
		}
	}
}

static void maybe_resume(struct vm *vm)
{
	if (vm->halted && vm->stuffed_regs && vm->stuffed_sregs)
		vm->halted = 0;
}

/* The step's fields over registers read back from KVM (set_sregs, set_regs, set_vcpu_events and the
 * sync blocks of `run`). */
static void patch_sregs(const struct step *s, struct kvm_sregs *sr)
{
	const struct arg *a;
	if ((a = step_arg(s, "efer"))) sr->efer = a->v;
	if ((a = step_arg(s, "cr0"))) sr->cr0 = a->v;
	if ((a = step_arg(s, "cr2"))) sr->cr2 = a->v;
	if ((a = step_arg(s, "cr3"))) sr->cr3 = a->v;
	if ((a = step_arg(s, "cr4"))) sr->cr4 = a->v;
}

static void patch_regs(const struct step *s, struct kvm_regs *rg)
{
	const struct arg *a;
	if ((a = step_arg(s, "rip"))) rg->rip = a->v;
	if ((a = step_arg(s, "rsp"))) rg->rsp = a->v;
	if ((a = step_arg(s, "rax"))) rg->rax = a->v;
	if ((a = step_arg(s, "rflags"))) rg->rflags = a->v;
}

/* Only the given fields' valid flags are set, and KVM_VCPUEVENT_VALID_PAYLOAD as QEMU sets it with
 * KVM_CAP_EXCEPTION_PAYLOAD (the exception block is always taken: as read back, or as the step says). */
static void patch_events(const struct step *s, struct kvm_vcpu_events *ev)
{
	const struct arg *a;
	ev->flags = have_payload_cap ? KVM_VCPUEVENT_VALID_PAYLOAD : 0;
	int has_exception = ev->exception.pending || ev->exception.injected;
	if ((a = step_arg(s, "exception"))) { /* a new exception: pending, no error code, unless said */
		ev->exception.nr = (uint8_t)a->v;
		ev->exception.pending = 1;
		ev->exception.injected = 0;
		ev->exception.has_error_code = 0;
		ev->exception.error_code = 0;
		ev->exception_has_payload = 0;
		has_exception = 1;
	}
	if ((a = step_arg(s, "injected")) || step_arg(s, "error_code")) {
		if (!has_exception) /* the model's: no exception read back is vector 0 */
			ev->exception.nr = 0, ev->exception.has_error_code = 0, ev->exception.pending = 1;
		if (a)
			ev->exception.injected = (uint8_t)a->v, ev->exception.pending = !a->v;
	}
	if ((a = step_arg(s, "error_code")))
		ev->exception.has_error_code = 1, ev->exception.error_code = (uint32_t)a->v;
	if ((a = step_arg(s, "smm"))) ev->smi.smm = (uint8_t)a->v, ev->flags |= KVM_VCPUEVENT_VALID_SMM;
	if ((a = step_arg(s, "smi_pending"))) ev->smi.pending = (uint8_t)a->v, ev->flags |= KVM_VCPUEVENT_VALID_SMM;
	if ((a = step_arg(s, "latched_init")))
		ev->smi.latched_init = (uint8_t)a->v, ev->flags |= KVM_VCPUEVENT_VALID_SMM;
	if ((a = step_arg(s, "triple_fault")))
		ev->triple_fault.pending = (uint8_t)a->v, ev->flags |= KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
	if ((a = step_arg(s, "interrupt"))) {
		/* An external interrupt being injected (vector 0x20); no flag: always applied. */
		ev->interrupt.injected = (uint8_t)a->v;
		ev->interrupt.nr = a->v ? 0x20 : 0;
		ev->interrupt.soft = 0;
	}
}

static void op_set_sregs(struct vm *vm, const struct step *s)
{
	struct kvm_sregs sr;
	int r = ioctl(vm->vcpu, KVM_GET_SREGS, &sr);
	if (r == 0) {
		patch_sregs(s, &sr);
		r = ioctl(vm->vcpu, KVM_SET_SREGS, &sr);
	}
	set_last_ioctl(vm, r, errno);
	if (r == 0) {
		vm->stuffed_sregs = 1;
		maybe_resume(vm);
	}
}

static void op_set_regs(struct vm *vm, const struct step *s)
{
	struct kvm_regs rg;
	int r = ioctl(vm->vcpu, KVM_GET_REGS, &rg);
	if (r == 0) {
		patch_regs(s, &rg);
		r = ioctl(vm->vcpu, KVM_SET_REGS, &rg);
	}
	set_last_ioctl(vm, r, errno);
	if (r == 0) {
		vm->stuffed_regs = 1;
		maybe_resume(vm);
	}
}

/* One KVM_SET_MSRS; the result is ok only if KVM took every entry. */
static int set_msrs(struct vm *vm, const uint32_t *idx, const uint64_t *val, int n)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[3];
	} m;
	memset(&m, 0, sizeof m);
	m.h.nmsrs = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		m.e[i].index = idx[i];
		m.e[i].data = val[i];
	}
	int r = ioctl(vm->vcpu, KVM_SET_MSRS, &m);
	if (r >= 0 && r != n) {
		errno = EINVAL;
		return -1;
	}
	return r < 0 ? -1 : 0;
}

static void op_set_msrs(struct vm *vm, const struct step *s)
{
	static const char *keys[] = {"efer", "hsave_pa", "vm_cr"};
	static const uint32_t msrs[] = {MSR_EFER, MSR_HSAVE_PA, MSR_VM_CR};
	uint32_t idx[3];
	uint64_t val[3];
	int n = 0;
	for (int i = 0; i < 3; i++) {
		const struct arg *a = step_arg(s, keys[i]);
		if (a) {
			idx[n] = msrs[i];
			val[n++] = a->v;
		}
	}
	int r = set_msrs(vm, idx, val, n);
	set_last_ioctl(vm, r, errno);
}

/* The VCPU_EVENTS flags QEMU puts (kvm_put_vcpu_events). */
static uint32_t qemu_event_flags(void)
{
	return KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR | KVM_VCPUEVENT_VALID_SHADOW |
	       KVM_VCPUEVENT_VALID_SMM | (have_triple_fault_cap ? KVM_VCPUEVENT_VALID_TRIPLE_FAULT : 0) |
	       (have_payload_cap ? KVM_VCPUEVENT_VALID_PAYLOAD : 0);
}

static void op_set_vcpu_events(struct vm *vm, const struct step *s)
{
	struct kvm_vcpu_events ev;
	int r = ioctl(vm->vcpu, KVM_GET_VCPU_EVENTS, &ev);
	if (r == 0) {
		patch_events(s, &ev);
		r = ioctl(vm->vcpu, KVM_SET_VCPU_EVENTS, &ev);
	}
	set_last_ioctl(vm, r, errno);
}

/* `run` with kvm_run's doors (PLAN.md): each sync block is KVM_GET_* of the current state with the
 * step's fields changed, put into kvm_run->s.regs and marked in kvm_dirty_regs; immediate_exit makes
 * KVM_RUN return -EINTR before it enters. KVM clears the dirty bit of each block it applied and keeps
 * the others (a refused block and those after it): the runner reads that back, then clears
 * kvm_dirty_regs, so that each step is one request. */
static void op_run_doors(struct vm *vm, const struct step *s, struct record *rec)
{
	const struct arg *ie = step_arg(s, "immediate_exit"), *sync = step_arg(s, "sync");
	char list[40];
	uint32_t dirty = 0;
	snprintf(list, sizeof list, "%s", sync ? sync->text : "");
	for (char *save, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		dirty |= !strcmp(t, "regs") ? KVM_SYNC_X86_REGS : !strcmp(t, "sregs") ? KVM_SYNC_X86_SREGS : KVM_SYNC_X86_EVENTS;
	/* After a shutdown the VMM runs the vCPU again only once it has put all registers. */
	uint32_t all = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	if (vm->halted && (dirty & all) != all) {
		rec->ran = "skipped";
		return;
	}
	struct kvm_run *run = vm->run;
	int r = 0;
	if (dirty & KVM_SYNC_X86_REGS) {
		r = ioctl(vm->vcpu, KVM_GET_REGS, &run->s.regs.regs);
		patch_regs(s, &run->s.regs.regs);
	}
	if (r == 0 && (dirty & KVM_SYNC_X86_SREGS)) {
		r = ioctl(vm->vcpu, KVM_GET_SREGS, &run->s.regs.sregs);
		patch_sregs(s, &run->s.regs.sregs);
	}
	if (r == 0 && (dirty & KVM_SYNC_X86_EVENTS)) {
		r = ioctl(vm->vcpu, KVM_GET_VCPU_EVENTS, &run->s.regs.events);
		patch_events(s, &run->s.regs.events);
	}
	if (r != 0) {
		set_last_ioctl(vm, r, errno);
		return;
	}
	struct state st;
	read_state(vm, &st);
	rec->ran = level_name(level_of(&st));
	w32(vm, MB_OP, OP_NOP);
	run->kvm_dirty_regs = dirty;
	run->immediate_exit = ie && ie->v;
	enum runres rr;
	if (run->immediate_exit) { /* no entry, so no time limit and no signal: one KVM_RUN */
		r = ioctl(vm->vcpu, KVM_RUN, 0);
		vm->run_errno = errno;
		rr = r == 0 ? RR_OTHER : vm->run_errno == EINTR ? RR_INTR : RR_ERRNO;
		if (rr == RR_OTHER)
			vm->exit_code = (int)run->exit_reason;
	} else {
		rr = vcpu_run(vm);
	}
	uint32_t applied = dirty & ~run->kvm_dirty_regs;
	run->kvm_dirty_regs = 0;
	run->immediate_exit = 0;
	record_run(vm, rec, rr);
	if (rr == RR_DOORBELL || rr == RR_OTHER)
		complete_io(vm);
	if (rr == RR_DOORBELL) /* entered, then back in userspace: the model's `run` */
		strcpy(rec->exit, "intr");
	vm->stuffed_regs |= !!(applied & KVM_SYNC_X86_REGS);
	vm->stuffed_sregs |= !!(applied & KVM_SYNC_X86_SREGS);
	maybe_resume(vm);
	/* A refused sync block is the VMM's own stuffing refused, as a failed SET ioctl: it goes on. */
	if (rr != RR_ERRNO)
		stop_if_needed(vm, rr);
	vm->in_run = 0;
}

static void op_set_nested_state(struct vm *vm, const struct step *s)
{
	struct slot *sl = &vm->slots[step_arg(s, "slot")->v];
	struct kvm_nested_state *ns = nested_alloc();
	if (!ns) {
		set_last_ioctl(vm, -1, ENOMEM);
		return;
	}
	if (sl->valid) {
		memcpy(ns, sl->nested, (size_t)nested_state_max);
	} else { /* an empty header */
		ns->format = KVM_STATE_NESTED_FORMAT_SVM;
		ns->size = sizeof *ns;
	}
	const struct arg *a;
	if ((a = step_arg(s, "flags"))) ns->flags = (uint16_t)a->v;
	if ((a = step_arg(s, "vmcb_pa"))) ns->hdr.svm.vmcb_pa = a->v;
	/* The buffer holds nested_state_max bytes whatever size says: KVM reads at most the header and
	 * the 4 KiB data area. */
	if ((a = step_arg(s, "format"))) ns->format = (uint16_t)a->v;
	if ((a = step_arg(s, "size"))) ns->size = (uint32_t)a->v;
	int r = ioctl(vm->vcpu, KVM_SET_NESTED_STATE, ns);
	set_last_ioctl(vm, r, errno);
	free(ns);
}

static void op_snapshot(struct vm *vm, const struct step *s)
{
	struct slot *sl = &vm->slots[step_arg(s, "slot")->v];
	if (!sl->nested)
		sl->nested = nested_alloc();
	sl->valid = 0;
	int r = ioctl(vm->vcpu, KVM_GET_REGS, &sl->regs);
	if (r == 0) r = ioctl(vm->vcpu, KVM_GET_SREGS, &sl->sregs);
	if (r == 0) r = get_msrs(vm, &sl->efer, &sl->hsave_pa, &sl->vm_cr);
	if (r == 0) r = ioctl(vm->vcpu, KVM_GET_VCPU_EVENTS, &sl->events);
	if (r == 0) r = get_nested(vm, sl->nested);
	set_last_ioctl(vm, r, errno);
	sl->valid = r == 0;
}

/* The slot's SET ioctls in `order`, stopping at the first failure; with fresh=1 into a new VM's vCPU
 * over the same memory, given the program's initial state (the migration target), which replaces the
 * old VM (closed afterwards). */
static void op_restore(struct vm *vm, const struct step *s)
{
	struct slot *sl = &vm->slots[step_arg(s, "slot")->v];
	const struct arg *oa = step_arg(s, "order"), *fa = step_arg(s, "fresh");
	char order[64];
	snprintf(order, sizeof order, "%s", oa ? oa->text : "sregs,nested,regs,msrs,events");
	if (!sl->valid) {
		set_last_ioctl(vm, -1, EINVAL);
		return;
	}
	if (fa && fa->v) {
		struct vm old = *vm;
		const char *err = vm_open(vm, 1);
		if (err) {
			note("restore fresh=1: %s (errno %d)", err, errno);
			vm_close(vm);
			*vm = old;
			set_last_ioctl(vm, -1, ENOMEM);
			return;
		}
		vm_close(&old);
		vm_reset_vmm_state(vm);
	}
	int r = 0, regs = 0, sregs = 0;
	for (char *save, *t = strtok_r(order, ",", &save); t && r == 0; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "sregs")) {
			r = ioctl(vm->vcpu, KVM_SET_SREGS, &sl->sregs);
			sregs = 1;
		} else if (!strcmp(t, "nested")) {
			/* QEMU keeps no nested state for a guest without SVM in CPUID (kvm_arch_init_vcpu
			 * allocates env->nested_state only with it), so it never puts one; the model does the same. */
			if (vm->plan->cfg.svm != 0)
				r = ioctl(vm->vcpu, KVM_SET_NESTED_STATE, sl->nested);
		} else if (!strcmp(t, "regs")) {
			r = ioctl(vm->vcpu, KVM_SET_REGS, &sl->regs);
			regs = 1;
		} else if (!strcmp(t, "msrs")) {
			/* QEMU's kvm_put_msrs: of the MSRs the model knows, only HSAVE_PA (EFER goes with SREGS,
			 * VM_CR is not migrated). Putting EFER here let an order with msrs before nested set
			 * EFER.SVME where QEMU and the model do not. */
			uint32_t idx[1] = {MSR_HSAVE_PA};
			uint64_t val[1] = {sl->hsave_pa};
			r = set_msrs(vm, idx, val, 1);
		} else if (!strcmp(t, "events")) {
			struct kvm_vcpu_events ev = sl->events;
			ev.flags = qemu_event_flags();
			r = ioctl(vm->vcpu, KVM_SET_VCPU_EVENTS, &ev);
		}
	}
	set_last_ioctl(vm, r, errno);
	if (r == 0 && regs && sregs) {
		vm->halted = 0;
		vm->stuffed_regs = vm->stuffed_sregs = 0;
	}
}

/* The VMM closes the VM (KVM destroys the vCPU: kvm_arch_vcpu_destroy, with svm_vcpu_free), then
 * creates a new VM and vCPU over the same memory with the program's initial state. */
static void op_destroy(struct vm *vm)
{
	vm_close(vm);
	const char *err = vm_open(vm, 1);
	if (err)
		note("destroy: the new VM: %s (errno %d)", err, errno);
	vm_reset_vmm_state(vm);
	set_last_ioctl(vm, err ? -1 : 0, errno);
}

/* QEMU's reset state (x86_cpu_reset_hold), put in kvm_arch_put_registers' order:
 * SREGS, NESTED_STATE, REGS, MSRS, VCPU_EVENTS. */
static void op_reset(struct vm *vm)
{
	struct kvm_sregs sr;
	int r = ioctl(vm->vcpu, KVM_GET_SREGS, &sr);
	if (r == 0) {
		uint64_t apic_base = sr.apic_base;
		memset(&sr, 0, sizeof sr);
		sr.apic_base = apic_base;
		seg(&sr.cs, 0xf000, 0xffff0000, 0xffff, 0xb, 1, 0, 0, 0);
		seg(&sr.ds, 0, 0, 0xffff, 0x3, 1, 0, 0, 0);
		sr.es = sr.ss = sr.fs = sr.gs = sr.ds;
		seg(&sr.ldt, 0, 0, 0xffff, 0x2, 0, 0, 0, 0);
		seg(&sr.tr, 0, 0, 0xffff, 0xb, 0, 0, 0, 0);
		sr.gdt.limit = sr.idt.limit = 0xffff;
		sr.cr0 = 0x60000010;
		r = ioctl(vm->vcpu, KVM_SET_SREGS, &sr);
	}
	if (r == 0) {
		struct kvm_nested_state ns = {.flags = KVM_STATE_NESTED_GIF_SET, .format = KVM_STATE_NESTED_FORMAT_SVM,
					      .size = sizeof ns};
		r = ioctl(vm->vcpu, KVM_SET_NESTED_STATE, &ns);
	}
	if (r == 0) {
		struct kvm_regs rg = {.rip = 0xfff0, .rflags = 2};
		r = ioctl(vm->vcpu, KVM_SET_REGS, &rg);
	}
	if (r == 0) {
		uint32_t idx = MSR_HSAVE_PA;
		uint64_t val = 0;
		r = set_msrs(vm, &idx, &val, 1);
	}
	if (r == 0) {
		struct kvm_vcpu_events ev;
		memset(&ev, 0, sizeof ev);
		ev.flags = qemu_event_flags();
		r = ioctl(vm->vcpu, KVM_SET_VCPU_EVENTS, &ev);
	}
	set_last_ioctl(vm, r, errno);
	if (r == 0) {
		vm->halted = 0;
		vm->stuffed_regs = vm->stuffed_sregs = 0;
	}
}

static void run_step(struct vm *vm, const struct step *s)
{
	struct record rec = {.ran = "userspace", .exit = "-", .exc = -1};
	int runs_guest = s->op <= S_TRIPLE_FAULT || s->op == S_RUN || s->op == S_SMI || s->op == S_INIT;
	if (runs_guest)
		w32(vm, MB_EXC, ~0u);
	switch (s->op) {
	case S_WRMSR: case S_VMRUN: case S_VMLOAD: case S_VMSAVE: case S_VMMCALL:
	case S_STGI: case S_CLGI: case S_RSM: case S_TRIPLE_FAULT:
		guest_op(vm, s, &rec);
		break;
	case S_RUN:
		if (s->nargs > 0)
			op_run_doors(vm, s, &rec);
		else
			op_run(vm, &rec);
		break;
	case S_SMI: op_smi(vm, &rec); break;
	case S_INIT: op_init(vm, &rec); break;
	case S_SIGNAL: vm->sig_pending = 1; break;
	case S_MEM: op_mem(vm, s); break;
	case S_NOP: break;
	case S_UNSUPPORTED: rec.ran = "unsupported"; break;
	default:
		/* Userspace needs the vCPU out of KVM_RUN for these. */
		vm->in_run = 0;
		switch (s->op) {
		case S_SET_SREGS: op_set_sregs(vm, s); break;
		case S_SET_REGS: op_set_regs(vm, s); break;
		case S_SET_MSRS: op_set_msrs(vm, s); break;
		case S_SET_VCPU_EVENTS: op_set_vcpu_events(vm, s); break;
		case S_SET_NESTED_STATE: op_set_nested_state(vm, s); break;
		case S_SNAPSHOT: op_snapshot(vm, s); break;
		case S_RESTORE: op_restore(vm, s); break;
		case S_RESET: op_reset(vm); break;
		case S_DESTROY: op_destroy(vm); break;
		default: break;
		}
	}
	if (runs_guest) {
		uint32_t exc = r32(vm, MB_EXC);
		rec.exc = exc == ~0u ? -1 : (int)exc;
	}
	record_state(vm, s, &rec);
	record_sink(&rec);
}

/* ------------------------------------------------------------------------------------------ */
/* Programs */

static int param_bool(const char *name)
{
	char path[128], v[16] = "";
	snprintf(path, sizeof path, "/sys/module/kvm_amd/parameters/%s", name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(v, sizeof v, f))
		v[0] = 0;
	fclose(f);
	return v[0] == 'Y' || v[0] == '1' ? 1 : v[0] == 'N' || v[0] == '0' ? 0 : -1;
}

static void read_host_facts(void)
{
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(kernel_release, sizeof kernel_release, "%s", u.release);
	char vals[4][16];
	const char *names[4] = {"nested", "npt", "nrips", "vgif"};
	for (int i = 0; i < 4; i++) {
		char path[128];
		snprintf(path, sizeof path, "/sys/module/kvm_amd/parameters/%s", names[i]);
		FILE *f = fopen(path, "r");
		strcpy(vals[i], "?");
		if (f) {
			if (fgets(vals[i], sizeof vals[i], f))
				vals[i][strcspn(vals[i], "\n")] = 0;
			fclose(f);
		}
	}
	snprintf(module_params, sizeof module_params, "nested=%s npt=%s nrips=%s vgif=%s", vals[0], vals[1], vals[2],
		 vals[3]);
	FILE *f = fopen("/sys/module/kvm/parameters/force_emulation_prefix", "r");
	char fep[16];
	if (f) {
		if (fgets(fep, sizeof fep, f))
			kvm_fep = fep[0] == 'Y' || (fep[0] >= '1' && fep[0] <= '9');
		fclose(f);
	}
}

/* The kvm_amd parameters the plan needs; a mismatch message or NULL. */
static const char *config_mismatch(const struct config *c, char *msg, size_t n)
{
	const char *names[3] = {"nested", "npt", "vgif"};
	int want[3] = {c->nested, c->npt, c->vgif};
	for (int i = 0; i < 3; i++) {
		if (want[i] < 0)
			continue;
		int have = param_bool(names[i]);
		if (have != want[i]) {
			snprintf(msg, n, "the plan needs kvm_amd %s=%d, the kernel has %s", names[i], want[i], module_params);
			return msg;
		}
	}
	return NULL;
}

/* Plays p on a fresh VM, handing each step's record to record_sink. Returns the number of steps
 * played, or -1 with *kind ("config" or "vm") and msg saying what kept the plan from running. */
static int play_plan(const struct plan *p, const char **kind, char *msg, size_t n)
{
	const char *err = config_mismatch(&p->cfg, msg, n);
	struct vm vm;
	memset(&vm, 0, sizeof vm);
	vm.fd = vm.vcpu = -1;
	*kind = "config";
	if (!err) {
		*kind = "vm";
		err = vm_create(&vm, p);
	}
	if (err) {
		if (err != msg)
			snprintf(msg, n, "%s", err);
	} else {
		for (int i = 0; i < p->nsteps; i++)
			run_step(&vm, &p->steps[i]);
	}
	vm_destroy(&vm);
	return err ? -1 : p->nsteps;
}

/* /dev/kvm and what the runner needs to know about the host; NULL or what is missing. */
static const char *host_init(void)
{
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		return "cannot open /dev/kvm";
	nested_state_max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NESTED_STATE);
	if (nested_state_max < (int)sizeof(struct kvm_nested_state))
		nested_state_max = (int)sizeof(struct kvm_nested_state) + 0x2000;
	have_triple_fault_cap = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_TRIPLE_FAULT_EVENT) > 0;
	have_payload_cap = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_EXCEPTION_PAYLOAD) > 0;
	read_host_facts();
	signals_init();
	return NULL;
}

/* `--timeout-ms N` and, if `flag` is given, that flag (*flag_set = 1); returns the index of the first
 * other argument, or -1 after a bad option. */
static int parse_options(int argc, char **argv, const char *flag, int *flag_set)
{
	int i = 1;
	for (; i < argc && !strncmp(argv[i], "-", 1); i++) {
		if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc) {
			timeout_ms = atoi(argv[++i]);
			if (timeout_ms <= 0)
				return -1;
		} else if (flag && !strcmp(argv[i], flag)) {
			*flag_set = 1;
		} else if (!strcmp(argv[i], "--")) {
			return i + 1;
		} else {
			return -1;
		}
	}
	return i;
}

#ifndef SVMFUZZ_EMBEDDED
/* ------------------------------------------------------------------------------------------ */
/* svmfuzz-kvm: plan files in, JSON records out */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void kmsg_collect(struct buf *b)
{
	char msg[1024];
	bprintf(b, "[");
	for (int first = 1; b->n < sizeof b->s - 8192 && kmsg_next(msg, sizeof msg); first = 0) {
		if (!first)
			bprintf(b, ",");
		bjson_str(b, msg);
	}
	bprintf(b, "]");
}

static void run_plan(const struct plan *p, const char *file)
{
	struct buf b = {.n = 0};
	uint64_t t0 = now_ms();
	kmsg_start();
	bprintf(&b, "{\"program\":");
	bjson_str(&b, p->program);
	bprintf(&b, ",\"kernel\":");
	bjson_str(&b, kernel_release);
	bprintf(&b, ",\"params\":");
	bjson_str(&b, module_params);
	const char *slash = strrchr(file, '/');
	bprintf(&b, ",\"plan\":"); /* which plan file: lets a script split the records per file */
	bjson_str(&b, slash ? slash + 1 : file);
	bprintf(&b, "}");
	bflush_line(&b);

	char msg[256];
	const char *kind;
	int steps = play_plan(p, &kind, msg, sizeof msg);
	if (steps < 0) {
		bprintf(&b, "{\"error\":\"%s\",\"detail\":", kind);
		bjson_str(&b, msg);
		bprintf(&b, "}");
		bflush_line(&b);
		steps = 0;
	}
	bprintf(&b, "{\"end\":");
	bjson_str(&b, p->program);
	bprintf(&b, ",\"steps\":%d,\"ms\":%llu,\"warnings\":", steps, (unsigned long long)(now_ms() - t0));
	kmsg_collect(&b);
	bprintf(&b, "}");
	bflush_line(&b);
}

/* Runs one plan in a child process under a wall-clock budget: a vCPU wedged in a way no KVM_RUN time
 * limit reaches (seen with random programs in real mode) must not stall the whole boot. A child that
 * overruns is killed and its program ends with "runner_timeout". */
static void run_plan_guarded(const struct plan *p, const char *file)
{
	uint64_t budget = (uint64_t)(p->nsteps + 4) * (timeout_ms + 500), t0 = now_ms();
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		run_plan(p, file);
		fflush(stdout);
		_exit(0);
	}
	if (pid < 0) { /* no fork: run it here, unguarded */
		run_plan(p, file);
		return;
	}
	int status;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() - t0 > budget) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			struct buf b = {.n = 0};
			bprintf(&b, "{\"end\":");
			bjson_str(&b, p->program);
			bprintf(&b, ",\"runner_timeout\":true,\"ms\":%llu,\"warnings\":[]}", (unsigned long long)(now_ms() - t0));
			bflush_line(&b);
			return;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* Every plan of one file; 1 if one was malformed. */
static int run_plan_file(const char *file)
{
	FILE *f = fopen(file, "r");
	if (!f) {
		fprintf(stderr, "%s:0: expected a readable plan file (%s)\n", file, strerror(errno));
		return 1;
	}
	int lineno = 0, r, failed = 0;
	struct plan p;
	while ((r = plan_read(f, file, &lineno, &p)) != 0) {
		if (r < 0) {
			failed = 1;
			continue;
		}
		run_plan_guarded(&p, file);
		plan_free(&p);
	}
	fclose(f);
	return failed;
}

int main(int argc, char **argv)
{
	int i = parse_options(argc, argv, NULL, NULL), failed = 0;
	if (i < 0 || i == argc) {
		fprintf(stderr, "usage: svmfuzz-kvm [--timeout-ms N] plan-file...\n");
		return 2;
	}
	const char *err = host_init();
	if (err) {
		fprintf(stderr, "svmfuzz-kvm: %s (%s)\n", err, strerror(errno));
		return 1;
	}
	record_sink = print_record;
	for (; i < argc; i++)
		failed |= run_plan_file(argv[i]);
	return failed;
}
#endif

#ifdef SVMFUZZ_EMBEDDED
/* ------------------------------------------------------------------------------------------ */
/* An exported reproducer (svmfuzz export-c): one built-in plan, each step's record compared with
 * the model's expectations. The export defines, before this file:
 *   svmfuzz_plan        the plan text
 *   svmfuzz_source      what the expectations come from (a line of text)
 *   svmfuzz_fields[]    the compared fields, in report order (svmfuzz's OracleCompare.fieldNames)
 *   svmfuzz_expected[]  {step, field, value}: the model's value of a compared field after a step
 *   svmfuzz_step_text[] the program's text of each step (index: step number)
 */

static int differences, stopped, verbose;

/* "0x00FF" and "255" both as "0xff"; anything else unchanged (svmfuzz's canonicalHex). */
static const char *canonical_hex(const char *s, char *out, size_t n)
{
	int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	const char *digits = hex ? s + 2 : s;
	char *end;
	if (!*digits || !isxdigit((unsigned char)*digits) || (!hex && !isdigit((unsigned char)*digits)))
		return s;
	errno = 0;
	unsigned long long v = strtoull(digits, &end, hex ? 16 : 10);
	if (*end || errno)
		return s;
	snprintf(out, n, "0x%llx", v);
	return out;
}

static int is_hex_field(const char *f)
{
	static const char *const names[] = {"efer", "cr0", "cr3", "cr4", "hsave_pa", "vmcb_pa", "vmcb12_exit"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(f, names[i]))
			return 1;
	return 0;
}

/* The runner's value of a compared field in the model's vocabulary, or NULL where the oracle does
 * not compare it (svmfuzz's OracleCompare.kernelFields). */
static const char *kernel_value(const struct record *r, const char *f, char *tmp, size_t n)
{
	int guest = r->kind <= S_TRIPLE_FAULT, runs = r->kind == S_RUN || r->kind == S_SMI || r->kind == S_INIT;
	int played = guest && strcmp(r->ran, "skipped");
	if (!strcmp(f, "ran"))
		return guest ? r->ran : NULL;
	if (!strcmp(f, "exit"))
		return !played && !runs ? NULL : strcmp(r->exit, "-") ? r->exit : "none";
	if (!strcmp(f, "exc") && !played)
		return NULL;
	/* Vectors from 32 up are interrupts (an injected IRQ), not exceptions. */
	if (!strcmp(f, "exc") && r->exc >= 32)
		return "-1";
	if (!strcmp(f, "ioctl") && (guest || (runs && !r->doors)))
		return NULL;
	/* Whose code runs is compared outside SMM only (OracleCompare.kernelFields). */
	if (!strcmp(f, "rip_owner") && (!strcmp(r->mode, "smm") ||
	    (strcmp(r->rip_owner, "l1") && strcmp(r->rip_owner, "l2"))))
		return NULL;
	return record_value(r, f, tmp, n);
}

/* The model's value of field f after step n, or NULL. */
static const char *expected_value(int n, const char *f)
{
	for (size_t i = 0; i < sizeof svmfuzz_expected / sizeof svmfuzz_expected[0]; i++)
		if (svmfuzz_expected[i].step == n && !strcmp(svmfuzz_expected[i].field, f))
			return svmfuzz_expected[i].value;
	return NULL;
}

/* 1 if the record's field f differs from the model's (and prints it). */
static int check_field(const struct record *r, const char *f, const char *where)
{
	char kt[32], ke[32], et[32];
	const char *want = expected_value(r->step, f), *got = kernel_value(r, f, kt, sizeof kt);
	if (!want || !got)
		return 0;
	if (is_hex_field(f)) {
		want = canonical_hex(want, et, sizeof et);
		got = canonical_hex(got, ke, sizeof ke);
	}
	if (!strcmp(want, got))
		return 0;
	printf("%s: %s: KVM gave %s, expected %s\n", where, f, got, want);
	return 1;
}

static void check_record(const struct record *r)
{
	if (verbose)
		print_record(r);
	int nsteps = (int)(sizeof svmfuzz_step_text / sizeof svmfuzz_step_text[0]);
	char where[300];
	snprintf(where, sizeof where, "step %d (line %d) %s", r->step, r->line,
		 r->step < nsteps && svmfuzz_step_text[r->step] ? svmfuzz_step_text[r->step] : r->op);
	if (stopped)
		return;
	if (!strcmp(r->ran, "unsupported")) {
		printf("%s: not compared: the runner cannot play this step here (nor compare later ones)\n", where);
		stopped = 1;
	} else {
		int bad = 0;
		for (size_t i = 0; i < sizeof svmfuzz_fields / sizeof svmfuzz_fields[0]; i++)
			bad += check_field(r, svmfuzz_fields[i], where);
		if (!bad)
			printf("%s: ok\n", where);
		differences += bad;
	}
	fflush(stdout);
}

/* Kernel warnings logged while the program ran count as differences. */
static void check_kernel_log(void)
{
	char msg[1024];
	while (kmsg_next(msg, sizeof msg)) {
		printf("kernel log: %s\n", msg);
		differences++;
	}
}

int main(int argc, char **argv)
{
	int i = parse_options(argc, argv, "-v", &verbose);
	if (i != argc) {
		fprintf(stderr, "usage: %s [-v] [--timeout-ms N]   (-v: also print each step's JSON record)\n", argv[0]);
		return 2;
	}
	const char *err = host_init();
	if (err) {
		fprintf(stderr, "%s: %s (%s)\n", argv[0], err, strerror(errno));
		return 2;
	}
	struct plan p;
	int lineno = 0;
	FILE *f = fmemopen((void *)svmfuzz_plan, strlen(svmfuzz_plan), "r");
	if (!f || plan_read(f, "the built-in plan", &lineno, &p) != 1)
		return 2;
	fclose(f);
	printf("program %s\nkernel %s, kvm_amd %s\nexpected: %s\n", p.program, kernel_release, module_params,
	       svmfuzz_source);
	json_output = verbose;
	record_sink = check_record;
	kmsg_start();
	char msg[256];
	const char *kind;
	if (play_plan(&p, &kind, msg, sizeof msg) < 0) {
		printf("RESULT: cannot run (%s): %s\n", kind, msg);
		return 2;
	}
	check_kernel_log();
	plan_free(&p);
	if (differences)
		printf("RESULT: %d difference%s\n", differences, differences == 1 ? "" : "s");
	else
		printf("RESULT: KVM behaves as expected%s\n", stopped ? " (up to the step not compared)" : "");
	return differences ? 1 : 0;
}
#endif
