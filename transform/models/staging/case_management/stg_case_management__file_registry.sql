{{ stg_file_registry('raw_case_management') }}
