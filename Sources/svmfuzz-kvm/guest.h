/*
 * The guest layout shared by runner.c and guest.S (PLAN.md "The guest environment").
 * Only preprocessor constants: this header is included by the assembler too.
 */
#ifndef SVMFUZZ_KVM_GUEST_H
#define SVMFUZZ_KVM_GUEST_H

#define GPA_GDT        0x600000
#define GPA_TSS        0x600800   /* the 64-bit TSS that selector 0x20 describes */
#define GPA_IDT        0x601000
#define GPA_STUBS      0x602000
#define GPA_INTERP64   0x604000   /* L1's interpreter copy */
#define GPA_MBOX       0x606000
#define GPA_PDPT       0x607000
#define GPA_PD         0x608000   /* 4 page directories, 0x608000-0x60bfff */
#define GPA_SMM_MASTER 0x60c000   /* a reference copy of the SMM interpreter */
#define GPA_PML4_L1    0x1000
#define GPA_RESERVED_LO 0x600000  /* programs never use 0x600000-0x7fffff */
#define GPA_RESERVED_HI 0x800000
#define SMBASE         0x30000
#define GPA_SMM_ENTRY  (SMBASE + 0x8000)
#define GPA_RESET_VEC  0xfffffff0

#define STUB_SIZE      16

/* The mailbox. */
#define MB_OP          (GPA_MBOX + 0x00)  /* u32 op; the guest writes OP_NOP when it takes one */
#define MB_RAX         (GPA_MBOX + 0x08)
#define MB_RCX         (GPA_MBOX + 0x10)
#define MB_RDX         (GPA_MBOX + 0x18)
#define MB_EXC         (GPA_MBOX + 0x20)  /* u32 vector seen by the exception stubs, ~0 if none */
#define MB_UNSUP       (GPA_MBOX + 0x24)  /* u32 set by the SMM interpreter for an op it cannot play */
#define MB_EMPTY_IDT   (GPA_MBOX + 0x40)  /* 10 zero bytes: limit 0, base 0 */
#define MB_TABLE       (GPA_MBOX + 0x100) /* u64 count, then {start, end} of each interpreter copy */
#define MB_TABLE_MAX   200

#define DOORBELL_PORT  0xd0
#define RM_DATA_PORT   0xd1       /* IN: the 16-bit interpreter reads op, ecx, edx, eax */
#define RM_EXC_PORT    0xd2       /* OUT: a real-mode exception stub reports its vector */

/* The 16-bit interpreter: IP RM_IP in the reset segment (base 0xffff0000) and in segment 0xf000. */
#define RM_IP          0xe000
#define RM_SEG_BASE    0xf0000
#define GPA_IVT        0x0        /* real-mode IVT: vector v -> f000:(its stub, 8*v into g_rm_stubs) */

/* Guest ops (mailbox MB_OP). */
#define OP_NOP          0
#define OP_WRMSR        1
#define OP_VMRUN        2
#define OP_VMLOAD       3
#define OP_VMSAVE       4
#define OP_VMMCALL      5
#define OP_STGI         6
#define OP_CLGI         7
#define OP_RSM          8
#define OP_TRIPLE_FAULT 9
#define OP_WRMSR_FEP    10  /* WRMSR behind KVM's forced-emulation prefix (64-bit interpreter only) */
#define OP_VMRUN_FEP    11  /* ... and the other instructions behind it (64-bit interpreter only) */
#define OP_VMLOAD_FEP   12
#define OP_VMSAVE_FEP   13
#define OP_VMMCALL_FEP  14
#define OP_STGI_FEP     15
#define OP_CLGI_FEP     16
#define OP_RSM_FEP      17

#endif
