"""The block graph oracle: nodes, options, and what QMP's block commands answer.

Sans-IO: whatever the oracle needs to know about files and images comes
through a StorageFacts object (reference.block.storage).
"""
