/*
 * Guest code of svmfuzz-kvm (see PLAN.md "The guest environment").
 *
 * These blocks are never executed by the runner itself: runner.c copies them into guest memory.
 * Every block is position independent (relative jumps only; the mailbox and the copy table are
 * absolute addresses that are identity-mapped at every level), so a copy works at any address.
 *
 * Protocol: an interpreter rings the doorbell (OUT to DOORBELL_PORT: KVM_EXIT_IO to the runner),
 * then reads the op from the mailbox, clears it (so an op is executed at most once, even when the
 * level that read it is re-entered after RSM or an exception), executes it and loops.
 */
#include "guest.h"

	.pushsection .rodata.guest, "a"	/* popped at the end: the blocks also work as top-level asm in C */

/* ---------------------------------------------------------------------------------------------
 * 64-bit interpreter: L1's copy at 0x604000, one copy per `l2entry` for L2.
 * Registers are scratch: everything is reloaded from the mailbox at each op.
 */
	.code64
	.balign 16
	.globl g_interp64_start, g_interp64_end
g_interp64_start:
i64_loop:
	outb	%al, $DOORBELL_PORT
	movl	MB_OP, %ebx
	movl	$OP_NOP, MB_OP
	movq	MB_RAX, %rax
	movq	MB_RCX, %rcx
	movq	MB_RDX, %rdx
	cmpl	$OP_WRMSR, %ebx
	je	i64_wrmsr
	cmpl	$OP_VMRUN, %ebx
	je	i64_vmrun
	cmpl	$OP_VMLOAD, %ebx
	je	i64_vmload
	cmpl	$OP_VMSAVE, %ebx
	je	i64_vmsave
	cmpl	$OP_VMMCALL, %ebx
	je	i64_vmmcall
	cmpl	$OP_STGI, %ebx
	je	i64_stgi
	cmpl	$OP_CLGI, %ebx
	je	i64_clgi
	cmpl	$OP_RSM, %ebx
	je	i64_rsm
	cmpl	$OP_TRIPLE_FAULT, %ebx
	je	i64_triple_fault
	cmpl	$OP_WRMSR_FEP, %ebx
	je	i64_wrmsr_fep
	cmpl	$OP_VMRUN_FEP, %ebx
	je	i64_vmrun_fep
	cmpl	$OP_VMLOAD_FEP, %ebx
	je	i64_vmload_fep
	cmpl	$OP_VMSAVE_FEP, %ebx
	je	i64_vmsave_fep
	cmpl	$OP_VMMCALL_FEP, %ebx
	je	i64_vmmcall_fep
	cmpl	$OP_STGI_FEP, %ebx
	je	i64_stgi_fep
	cmpl	$OP_CLGI_FEP, %ebx
	je	i64_clgi_fep
	cmpl	$OP_RSM_FEP, %ebx
	je	i64_rsm_fep
	jmp	i64_loop
i64_wrmsr:
	wrmsr
	jmp	i64_loop
i64_wrmsr_fep:
	ud2			/* KVM's forced-emulation prefix: ud2; .ascii "kvm" */
	.ascii	"kvm"
	wrmsr
	jmp	i64_loop
/* The same prefix before the SVM instructions and RSM: KVM's emulator checks them and, past its
 * intercept check, has no handler (an emulation failure); VMMCALL is rewritten in place and re-run. */
i64_vmrun_fep:
	ud2
	.ascii	"kvm"
	vmrun
	jmp	i64_loop
i64_vmload_fep:
	ud2
	.ascii	"kvm"
	vmload
	jmp	i64_loop
i64_vmsave_fep:
	ud2
	.ascii	"kvm"
	vmsave
	jmp	i64_loop
i64_vmmcall_fep:
	ud2
	.ascii	"kvm"
	vmmcall
	jmp	i64_loop
i64_stgi_fep:
	ud2
	.ascii	"kvm"
	stgi
	jmp	i64_loop
i64_clgi_fep:
	ud2
	.ascii	"kvm"
	clgi
	jmp	i64_loop
i64_rsm_fep:
	ud2
	.ascii	"kvm"
	rsm
	jmp	i64_loop
i64_vmrun:
	vmrun			/* after a #VMEXIT (or a failed VMRUN) L1 continues here */
	jmp	i64_loop
i64_vmload:
	vmload
	jmp	i64_loop
i64_vmsave:
	vmsave
	jmp	i64_loop
i64_vmmcall:
	vmmcall
	jmp	i64_loop
i64_stgi:
	stgi
	jmp	i64_loop
i64_clgi:
	clgi
	jmp	i64_loop
i64_rsm:
	rsm			/* #UD outside SMM: that is the observation */
	jmp	i64_loop
i64_triple_fault:
	/* An empty IDT: the #UD cannot be delivered (#GP), nor the #GP (#DF), nor the #DF. */
	lidt	MB_EMPTY_IDT
	ud2
	jmp	i64_loop
g_interp64_end:

/* ---------------------------------------------------------------------------------------------
 * Exception stubs (0x602000, 16 bytes per vector) and their common tail. Each stub pushes a dummy
 * error code when the CPU pushes none, then its vector. The tail records the vector in the
 * mailbox, then IRETs to the start of the interpreter copy that holds the interrupted RIP (the
 * copy table at MB_TABLE), so the level that took the exception rings its doorbell next.
 */
	.balign 16
	.globl g_stubs_start, g_stubs_end
g_stubs_start:
	.altmacro
	.macro exc_stub v
	.balign 16
	.if (\v == 8) || ((\v >= 10) && (\v <= 14)) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
	.else
	pushq	$0
	.endif
	pushq	$\v
	jmp	exc_common
	.endm
	.set	vec, 0
	.rept	256
	exc_stub %vec
	.set	vec, vec + 1
	.endr
	.balign 16
exc_common:
	popq	%rax			/* vector */
	movl	%eax, MB_EXC
	addq	$8, %rsp		/* error code (real or dummy) */
	movq	(%rsp), %rbx		/* interrupted RIP */
	movl	$MB_TABLE, %esi
	movq	(%rsi), %rcx		/* number of copies */
	addq	$8, %rsi
exc_search:
	testq	%rcx, %rcx
	jz	exc_unknown
	cmpq	(%rsi), %rbx
	jb	exc_next
	cmpq	8(%rsi), %rbx
	jae	exc_next
	movq	(%rsi), %rbx
	movq	%rbx, (%rsp)
	iretq
exc_next:
	addq	$16, %rsi
	decq	%rcx
	jmp	exc_search
exc_unknown:
	movq	$GPA_INTERP64, (%rsp)	/* not in any copy: L1's copy */
	iretq
g_stubs_end:

/* ---------------------------------------------------------------------------------------------
 * SMM interpreter at SMBASE+0x8000. KVM enters SMM in 16-bit "big real mode": CS base = SMBASE,
 * DS base 0 with a 4 GiB limit, so addr32 reaches the mailbox. It plays `rsm` and `wrmsr`; any
 * other op is left in the mailbox with MB_UNSUP set (the runner reports it `unsupported`).
 */
	.code16
	.balign 16
	.globl g_smm_start, g_smm_end
g_smm_start:
smm_loop:
	outb	%al, $DOORBELL_PORT
	addr32 movl MB_OP, %ebx
	cmpl	$OP_NOP, %ebx
	je	smm_loop
	cmpl	$OP_RSM, %ebx
	je	smm_rsm
	cmpl	$OP_WRMSR, %ebx
	je	smm_wrmsr
	addr32 movl $1, MB_UNSUP
	jmp	smm_loop
smm_rsm:
	addr32 movl $OP_NOP, MB_OP
	rsm
	jmp	smm_loop		/* not reached unless RSM fails without a shutdown */
smm_wrmsr:
	addr32 movl $OP_NOP, MB_OP
	addr32 movl MB_RAX, %eax
	addr32 movl MB_RCX, %ecx
	addr32 movl MB_RDX, %edx
	wrmsr
	jmp	smm_loop
g_smm_end:

/* ---------------------------------------------------------------------------------------------
 * Reset vector (0xfffffff0: CS base 0xffff0000, IP 0xfff0 after `reset` or an INIT): a near jump
 * to the 16-bit interpreter at IP RM_IP of the same segment.
 */
	.balign 16
	.globl g_reset_start, g_reset_end
g_reset_start:
	jmp	g_reset_start + (RM_IP - 0xfff0)	/* rel16 from IP 0xfff0 to IP RM_IP */
g_reset_end:

/* ---------------------------------------------------------------------------------------------
 * 16-bit interpreter for real mode (and 16-bit code segments), at IP RM_IP in the reset segment
 * (GPA 0xffff0000+RM_IP) and in segment 0xf000 (GPA 0xf0000+RM_IP), where the real-mode exception
 * stubs return to. Plain real mode cannot reach the mailbox above 1 MiB, so the op and its
 * operands are read with IN from RM_DATA_PORT (the runner answers from the mailbox: op, ecx, edx,
 * eax); an op of 0 means nothing to do.
 */
	.balign 16
	.globl g_rm_start, g_rm_end
g_rm_start:
rm_loop:
	outb	%al, $DOORBELL_PORT
	inl	$RM_DATA_PORT, %eax
	movl	%eax, %ebx
	cmpl	$OP_NOP, %ebx
	je	rm_loop
	inl	$RM_DATA_PORT, %eax
	movl	%eax, %ecx
	inl	$RM_DATA_PORT, %eax
	movl	%eax, %edx
	inl	$RM_DATA_PORT, %eax
	cmpl	$OP_WRMSR, %ebx
	je	rm_wrmsr
	cmpl	$OP_VMRUN, %ebx
	je	rm_vmrun
	cmpl	$OP_VMLOAD, %ebx
	je	rm_vmload
	cmpl	$OP_VMSAVE, %ebx
	je	rm_vmsave
	cmpl	$OP_VMMCALL, %ebx
	je	rm_vmmcall
	cmpl	$OP_STGI, %ebx
	je	rm_stgi
	cmpl	$OP_CLGI, %ebx
	je	rm_clgi
	cmpl	$OP_RSM, %ebx
	je	rm_rsm
	cmpl	$OP_TRIPLE_FAULT, %ebx
	je	rm_triple_fault
	jmp	rm_loop
rm_wrmsr:
	wrmsr
	jmp	rm_loop
rm_vmrun:
	addr32 vmrun		/* EAX, not AX */
	jmp	rm_loop
rm_vmload:
	addr32 vmload
	jmp	rm_loop
rm_vmsave:
	addr32 vmsave
	jmp	rm_loop
rm_vmmcall:
	vmmcall
	jmp	rm_loop
rm_stgi:
	stgi
	jmp	rm_loop
rm_clgi:
	clgi
	jmp	rm_loop
rm_rsm:
	rsm
	jmp	rm_loop
rm_triple_fault:
	lidtl	%cs:(RM_IP + rm_empty_idt - g_rm_start)
	ud2
	jmp	rm_loop
	.balign 8
rm_empty_idt:
	.quad	0

/* Real-mode exception stubs at g_rm_stubs, in segment 0xf000 (the IVT points there,
 * 8 bytes per vector): report the vector on RM_EXC_PORT, drop the IP/CS/FLAGS frame and go back
 * to the interpreter loop in segment 0xf000. */
	.balign 16
	.globl g_rm_stubs
g_rm_stubs:
	.macro rm_stub v
	.balign 8
	movb	$\v, %al
	jmp	rm_exc_common
	.endm
	.set	vec, 0
	.rept	256
	rm_stub %vec
	.set	vec, vec + 1
	.endr
rm_exc_common:
	outb	%al, $RM_EXC_PORT
	addw	$6, %sp
	ljmp	$0xf000, $RM_IP
g_rm_end:

	.code64
	.noaltmacro
	.popsection
	.pushsection .note.GNU-stack, "", @progbits	/* no executable stack */
	.popsection
